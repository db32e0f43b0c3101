// Backing files and descriptors: a file-backed library's file is created exclusively, mode 0600,
// never through a planted symlink, only in a directory nobody else can swap it in, and removed at
// dldelete and at a normal exit; no descriptor of a library reaches a child process.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DlbindError, dlcreate } from '../src/index.js';
import { createBackingFile } from '../src/loader/live-object.js';
import { runNode } from './fixtures/robust-children.js';
import { openDescriptors, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

const dir = tempDir('dlbind-files-');
const ANSWER = Uint8Array.of(0xb8, 0x2a, 0, 0, 0, 0xc3);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DlbindError) return err.code;
    throw err;
  }
  return 'no error';
}

/** The descriptor of this process open on `path` (a memfd shows as /memfd:<name> (deleted)). */
function fdOf(target: (link: string) => boolean): number {
  return openDescriptors().find((d) => target(d.link))?.fd ?? -1;
}

test('the backing file is mode 0600 whatever the umask, a regular file of ours, and gone after dldelete', () => {
  const old = process.umask(0);
  try {
    const lib = dlcreate(undefined, { backing: { directory: dir } });
    const st = lstatSync(lib.path);
    assert.ok(st.isFile());
    assert.is(st.mode & 0o7777, 0o600);
    assert.is(st.uid, process.getuid!());
    assert.is(st.nlink, 1);
    const path = lib.path;
    lib.delete();
    assert.not.ok(existsSync(path));
  } finally {
    process.umask(old);
  }
});

test('createBackingFile refuses an existing file and a planted symlink at its exact path, and follows neither', () => {
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious');
  // A regular file already there: not opened, not truncated.
  const existing = join(dir, 'existing.so');
  writeFileSync(existing, 'someone else');
  assert.is(
    code(() => createBackingFile(existing)),
    'EINVAL',
  );
  assert.is(readFileSync(existing, 'utf8'), 'someone else');
  // A symlink to an existing file: not followed, the target untouched.
  const planted = join(dir, 'planted.so');
  symlinkSync(victim, planted);
  assert.is(
    code(() => createBackingFile(planted)),
    'EINVAL',
  );
  assert.is(readFileSync(victim, 'utf8'), 'precious');
  assert.ok(lstatSync(planted).isSymbolicLink());
  // A dangling symlink: the file it names is not created.
  const dangling = join(dir, 'dangling.so');
  const wouldBe = join(dir, 'created-through-the-link');
  symlinkSync(wouldBe, dangling);
  assert.is(
    code(() => createBackingFile(dangling)),
    'EINVAL',
  );
  assert.not.ok(existsSync(wouldBe));
  // A free name is created, empty, mode 0600.
  const fresh = join(dir, 'fresh.so');
  const old = process.umask(0);
  try {
    closeSync(createBackingFile(fresh));
  } finally {
    process.umask(old);
  }
  assert.is(statSync(fresh).mode & 0o7777, 0o600);
  assert.is(statSync(fresh).size, 0);
});

test('a world-writable directory without the sticky bit is refused (EINVAL); with it, or private, it is used', () => {
  const open = join(dir, 'world-writable');
  mkdirSync(open);
  chmodSync(open, 0o777);
  assert.is(
    code(() => dlcreate(undefined, { backing: { directory: open } })),
    'EINVAL',
  );
  assert.equal(readdirSync(open), [], 'nothing was created there');
  chmodSync(open, 0o1777);
  const sticky = dlcreate(undefined, { backing: { directory: open } });
  sticky.addFunction('answer', ANSWER);
  sticky.delete();
  assert.is(
    code(() => dlcreate(undefined, { backing: { directory: join(dir, 'missing') } })),
    'EINVAL',
  );
  assert.is(
    code(() => dlcreate(undefined, { backing: { directory: join(dir, 'victim.txt') } })),
    'EINVAL',
  );
});

test('the backing file is removed when the process ends normally without dldelete: falling off the end, process.exit, an uncaught exception', async () => {
  for (const [how, status] of [
    ['return', 0],
    ['exit', 0],
    ['throw', 1],
  ] as const) {
    const r = await runNode(['tests/fixtures/robust-files-child.ts', dir, how]);
    assert.is(r.signal, null, how);
    assert.is(r.status, status, `${how}: ${r.stderr}`);
    const path = r.stdout.trim();
    assert.ok(path.startsWith(dir), `${how}: ${path}`);
    assert.not.ok(existsSync(path), `${how}: ${path} is still there`);
  }
});

test('library descriptors are close-on-exec: a spawned child sees neither the memfd nor the backing file', () => {
  const memfd = dlcreate();
  const filed = dlcreate(undefined, { backing: { directory: dir } });
  try {
    const memfdFd = fdOf((l) => l.startsWith(`/memfd:${memfd.name}`));
    const fileFd = fdOf((l) => l === filed.path);
    assert.ok(memfdFd >= 0 && fileFd >= 0, 'both descriptors are open here');
    for (const fd of [memfdFd, fileFd]) {
      // fdinfo's flags are octal; O_CLOEXEC is 02000000.
      const flags = Number.parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      assert.ok((flags & 0o2000000) !== 0, `fd ${fd} lacks O_CLOEXEC (flags 0${flags.toString(8)})`);
    }
    const ls = spawnSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8' });
    assert.is(ls.status, 0, ls.stderr);
    assert.ok(ls.stdout.includes('/proc/'), 'ls listed its own descriptors');
    assert.not.ok(ls.stdout.includes('memfd:'), ls.stdout);
    assert.not.ok(ls.stdout.includes(filed.path), ls.stdout);
  } finally {
    memfd.delete();
    filed.delete();
  }
});

test.run();
