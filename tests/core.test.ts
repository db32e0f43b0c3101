// Post-mortem: a child process crashes in JIT code and leaves a core file.
// `dlbind core` reads it with dlbind's own reader, writes the library image
// and names the faulting function; gdb on node plus the core names frame #0
// after the shipped extension's one command (and prints `??` without it).
// The core comes from the kernel (ulimit -c unlimited, core_pattern a plain
// file name) or, where the kernel's cores go elsewhere, from gdb's gcore at
// the fault.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CoreSource, findJitLibraries, readCore } from '../src/elf/core.js';
import { ElfFormatError, buildSharedObject, readElf } from '../src/index.js';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-core-');
const fixture = resolve('tests/fixtures/debug-crash-target.ts');
const tsx = import.meta.resolve('tsx');
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeoutMs: 120_000 });

interface Made {
  core: string;
  how: string;
}

/** Runs the crashing fixture in `work` and returns its core, or why there is none. */
function makeCore(work: string, env: NodeJS.ProcessEnv = {}): Made | string {
  if (process.arch !== 'x64') return 'the target JIT-compiles x86_64 code';
  mkdirSync(work, { recursive: true });
  const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  let why: string;
  if (pattern.startsWith('|') || pattern.includes('/')) why = `kernel cores go to '${pattern}', not to the crashing process's directory`;
  else {
    const r = spawnSync('sh', ['-c', 'ulimit -c unlimited || exit 99; exec "$0" --import "$1" "$2"', process.execPath, tsx, fixture], {
      cwd: work,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 99) why = 'ulimit -c unlimited is refused here';
    else {
      assert.is(r.signal, 'SIGSEGV', `${r.status} ${r.stdout}${r.stderr}`);
      const cores = readdirSync(work).filter((f) => f.startsWith(pattern.split('%')[0]!) && statSync(join(work, f)).isFile());
      if (cores.length === 1) return { core: join(work, cores[0]!), how: 'kernel' };
      why = `the kernel wrote no core (core_pattern '${pattern}')`;
    }
  }
  if (!have('gdb')) return `${why}, and gdb (for gcore) is not installed`;
  const core = join(work, 'gcore');
  const r = run('gdb', ['-nx', '-batch', '-ex', 'run', '-ex', `gcore ${core}`, '-ex', 'kill', '--args', process.execPath, '--import', 'tsx', fixture], {
    env: { ...process.env, ...env },
    timeoutMs: 180_000,
  });
  assert.ok(existsSync(core), `gcore wrote nothing (${why}):\n${r.stdout}${r.stderr}`);
  return { core, how: `gdb gcore (${why})` };
}

let made: Made | string | undefined;
const memfdCore = (): Made | string => {
  if (made === undefined) {
    made = makeCore(join(dir, 'memfd'));
    if (typeof made !== 'string') console.log(`  core from ${made.how}`);
  }
  return made;
};

test('dlbind core writes the library image and names the faulting function', () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  const out = join(dir, 'extracted');
  const r = cli(['core', m.core, '-o', out]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /faulting frame: pc 0x[0-9a-f]+ in jit_crash \(libcrashtarget\.so\)/, r.stdout);
  assert.match(r.stdout, /\/proc\/\d+\/fd\/\d+: libcrashtarget\.so at 0x[0-9a-f]+, 3 symbols/, r.stdout);
  // jit_crash's caller, found from the return address on the stack (sub rsp, 8; call: the word at sp).
  assert.match(r.stdout, /sp\+0x0: 0x[0-9a-f]+ jit_outer\+0x9/, r.stdout);
  const base = /add-symbol-file (\S+) -o (0x[0-9a-f]+)/.exec(r.stdout);
  assert.ok(base, r.stdout);
  assert.is(base![1], join(out, 'libcrashtarget.so'));
  const image = readElf(readFileSync(base![1]!));
  assert.is(image.soname, 'libcrashtarget.so');
  const crash = image.lookup('jit_crash');
  assert.ok(crash, 'the image holds jit_crash');
  assert.ok(image.lookup('jit_before'), 'and the function bound before it');
  // The code bytes are the ones the fixture wrote: mov rax, [0]; ret.
  const text = image.segments.find((p) => p.p_offset <= crash!.st_value && crash!.st_value < p.p_offset + p.p_filesz);
  const at = Number(crash!.st_value - text!.p_vaddr + text!.p_offset);
  assert.equal([...readFileSync(base![1]!).subarray(at, at + 9)], [0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3]);
  assert.ok(existsSync(join(out, 'dlbind.gdb')));
});

test('gdb on node and the core: frame #0 is the JIT function after dlbind-symbols, ?? before it', () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  if (!have('gdb')) return skipBecause('core gdb test', 'gdb is not installed');
  const r = run(
    'gdb',
    [
      '-nx',
      '-batch',
      '-ex',
      'set pagination off',
      '-ex',
      'echo @@before\\n',
      '-ex',
      'bt 1',
      '-x',
      resolve('gdb/dlbind.py'),
      '-ex',
      `dlbind-symbols ${join(dir, 'gdb-images')}`,
      '-ex',
      'echo @@after\\n',
      '-ex',
      'bt 8',
      '-ex',
      'x/1i $pc',
      process.execPath,
      m.core,
    ],
    { timeoutMs: 180_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const before = /@@before\n([\s\S]*?)dlbind:/.exec(out)?.[1] ?? '';
  assert.match(before, /#0 +0x[0-9a-f]+ in \?\? \(\)/, out);
  const after = out.slice(out.indexOf('@@after'));
  assert.match(after, /#0 +0x[0-9a-f]+ in jit_crash \(\)/, out);
  assert.match(after, /#1 +0x[0-9a-f]+ in jit_outer \(\)/, out);
  assert.match(after, /<jit_crash>:\s+mov\s+0x0,%rax/, out);
  assert.match(out, /dlbind: \/proc\/\d+\/fd\/\d+ \(\/memfd:libcrashtarget\.so \(deleted\)\) at 0x[0-9a-f]+/, out);
});

test('the gdb script dlbind core writes gives gdb the same names', () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  if (!have('gdb')) return skipBecause('core gdb test', 'gdb is not installed');
  const out = join(dir, 'scripted');
  assert.is(cli(['core', m.core, '-o', out]).status, 0);
  const r = run('gdb', ['-nx', '-batch', '-x', join(out, 'dlbind.gdb'), '-ex', 'bt 1', process.execPath, m.core], { timeoutMs: 180_000 });
  assert.match(r.stdout, /#0 +0x[0-9a-f]+ in jit_crash \(\)/, r.stdout + r.stderr);
});

test('with a file backing the alias lands in the core too (coredump_filter gains file-backed shared memory)', () => {
  const backing = join(dir, 'backing');
  mkdirSync(backing, { recursive: true });
  const m = makeCore(join(dir, 'file'), { DLBIND_CRASH_BACKING: backing });
  if (typeof m === 'string') return skipBecause('core test', m);
  const r = cli(['core', m.core, '-o', join(dir, 'file-extracted')]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /faulting frame: pc 0x[0-9a-f]+ in jit_crash/, r.stdout);
  assert.match(r.stdout, new RegExp(`${backing}/libcrashtarget\\.so\\.[0-9a-f]+: libcrashtarget\\.so`), r.stdout);
});

test('readCore refuses what is not a core, and a damaged core throws ElfFormatError or reads, never anything else', () => {
  const so = buildSharedObject({ soname: 'libx.so', symbols: [{ name: 'f', section: 'text', bytes: [0xc3] }] });
  assert.throws(
    () => readCore(so),
    (e: unknown) => e instanceof ElfFormatError && /not a core file/.test(e.message),
  );
  assert.throws(
    () => readCore(new Uint8Array(10)),
    (e: unknown) => e instanceof ElfFormatError,
  );
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core damage test', m);
  const fd = openSync(m.core, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(size, 256 * 1024));
    readSync(fd, prefix, 0, prefix.length, 0);
    const truncated = new Uint8Array(prefix.subarray(0, 4096));
    assert.throws(
      () => readCore(truncated),
      (e: unknown) => e instanceof ElfFormatError,
    );
    // The notes follow the program headers; damage lands there and in the headers.
    const notesEnd = Math.min(prefix.length, 0x30000);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const patched = Buffer.from(prefix);
      for (let k = 0; k < 4; k++) patched[random() % notesEnd] = random() & 0xff;
      const source: CoreSource = {
        size,
        read: (offset, length) => {
          if (offset + length <= patched.length) return patched.subarray(offset, offset + length);
          const b = Buffer.alloc(length);
          readSync(fd, b, 0, length, offset);
          return b;
        },
      };
      try {
        findJitLibraries(readCore(source));
      } catch (e) {
        if (!(e instanceof ElfFormatError)) throw e;
        failures++;
      }
    }
    console.log(`  ${failures} of 300 damaged cores refused with ElfFormatError`);
  } finally {
    closeSync(fd);
  }
});

test('dlbind core on a file that is not a core prints one line and exits 1', () => {
  const r = cli(['core', resolve('package.json')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^dlbind: not a valid ELF64 file: bad ELF magic/, r.stderr);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  const missing = cli(['core', join(dir, 'nope')]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /cannot read .*nope: no such file or directory/, missing.stderr);
});

test.run();
