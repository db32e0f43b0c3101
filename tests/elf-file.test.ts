// arch: aarch64
// writeFileAtomic, on the real file system: the old file is replaced whole (a reader that has it
// open keeps its bytes), never half-written, and nothing is left beside it, not even when the
// write fails, the target is a directory, or the old file is freed in the background. With
// freeOldFirst the old file goes before the write, as ld.lld's does, and a failed write leaves
// no file: that loss is checked too, so that the default's guarantee is shown to be its own.
import { spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileAtomic } from '../src/elf/index.js';
import { onTarget, openDescriptors, tempDir } from './helpers/tools.js';

const root = tempDir('dlbind-file-');
let cases = 0;
const freshDir = (): string => {
  const d = join(root, `case-${cases++}`);
  mkdirSync(d);
  return d;
};

/** This process's descriptors open on anything inside `dir` (deleted files included). */
function fdsInto(dir: string): string[] {
  return openDescriptors()
    .map((d) => d.link)
    .filter((link) => link.startsWith(`${dir}/`));
}

async function settled(dir: string): Promise<string[]> {
  // The old file's last descriptor is closed on libuv's pool: give it a moment.
  for (let i = 0; i < 200 && fdsInto(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return fdsInto(dir);
}

for (const [what, size] of [
  ['a small file', 4096],
  ['a large one (freed in the background)', 8 << 20],
] as const) {
  for (const [fsync, freeOldFirst] of [
    [true, false],
    [false, false],
    [false, true],
  ] as const) {
    test(`${what}, fsync ${fsync}, freeOldFirst ${freeOldFirst}: the new bytes under the name, the old ones still read through an old descriptor, nothing left beside`, async () => {
      const dir = freshDir();
      const path = join(dir, 'lib.so');
      const old = Buffer.alloc(size, 0x11);
      writeFileSync(path, old);
      const before = statSync(path).ino;
      const reader = openSync(path, 'r');
      const fresh = new Uint8Array(size + 1).fill(0x22);
      writeFileAtomic(path, fresh, 0o755, { fsync, freeOldFirst });
      assert.equal(readdirSync(dir), ['lib.so'], 'only the target, at once');
      assert.ok(readFileSync(path).equals(fresh), 'the new bytes');
      assert.is.not(statSync(path).ino, before, 'a new file, not the old one written over');
      assert.ok(readFileSync(reader).equals(old), 'the old file, still open, kept its bytes');
      closeSync(reader);
      assert.equal(await settled(dir), [], 'no descriptor left on the old file');
    });
  }
}

test('a new file gets the mode less the umask; over nothing at all, too', () => {
  const dir = freshDir();
  const old = process.umask(0o022);
  try {
    writeFileAtomic(join(dir, 'a.so'), Uint8Array.of(1));
    writeFileAtomic(join(dir, 'b.so'), Uint8Array.of(2), 0o640);
    writeFileAtomic(join(dir, 'c.so'), Uint8Array.of(3), 0o777);
  } finally {
    process.umask(old);
  }
  assert.is(statSync(join(dir, 'a.so')).mode & 0o777, 0o755);
  assert.is(statSync(join(dir, 'b.so')).mode & 0o777, 0o640);
  assert.is(statSync(join(dir, 'c.so')).mode & 0o777, 0o755);
  assert.equal(readdirSync(dir).sort(), ['a.so', 'b.so', 'c.so']);
});

for (const freeOldFirst of [false, true]) {
  test(`freeOldFirst ${freeOldFirst}: a symlink at the path is replaced itself; the file it points to is not touched`, () => {
    const dir = freshDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious');
    const path = join(dir, 'lib.so');
    symlinkSync(victim, path);
    writeFileAtomic(path, Uint8Array.of(7, 7), 0o755, { freeOldFirst });
    assert.ok(lstatSync(path).isFile());
    assert.equal([...readFileSync(path)], [7, 7]);
    assert.is(readFileSync(victim, 'utf8'), 'precious');
    assert.equal(readdirSync(dir).sort(), ['lib.so', 'victim.txt']);
  });
}

for (const freeOldFirst of [false, true]) {
  test(`freeOldFirst ${freeOldFirst}: a directory at the path is refused (EISDIR) and kept as it was, and no temporary is left`, () => {
    const dir = freshDir();
    const path = join(dir, 'lib.so');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'kept');
    let code: string | undefined;
    try {
      writeFileAtomic(path, Uint8Array.of(1), 0o755, { freeOldFirst });
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    assert.is(code, 'EISDIR');
    assert.equal(readdirSync(dir), ['lib.so']);
    assert.equal(readdirSync(path), ['inside']);
  });
}

test('a write that fails part-way (EFBIG under ulimit -f) leaves the old file whole and nothing beside it', () => {
  const dir = freshDir();
  const path = join(dir, 'lib.so');
  writeFileSync(path, 'the old library');
  const child = join(import.meta.dirname, 'fixtures', 'write-file-child.ts');
  const run = (size: number, how = 'keep'): string => {
    const [cmd, args] = onTarget(process.execPath, ['--import', 'tsx', child, path, String(size), how]);
    // 64 blocks of 1,024 bytes: 64 KiB.
    const r = spawnSync('bash', ['-c', 'ulimit -f 64 && exec "$@"', 'bash', cmd, ...args], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.is(run(1 << 20), 'EFBIG', 'a mebibyte is over the limit');
  assert.is(readFileSync(path, 'utf8'), 'the old library');
  assert.equal(readdirSync(dir), ['lib.so']);
  // The failing case's twin: under the limit, the same child does replace the file.
  assert.is(run(1000), 'written');
  assert.equal([...new Set(readFileSync(path))], [0x5a]);
  assert.equal(readdirSync(dir), ['lib.so']);
  // What freeOldFirst gives up: the same failure leaves no file at all, and still no temporary.
  assert.is(run(1 << 20, 'free-first'), 'EFBIG');
  assert.equal(readdirSync(dir), []);
  assert.is(run(1000, 'free-first'), 'written');
  assert.equal(readdirSync(dir), ['lib.so']);
});

test.run();
