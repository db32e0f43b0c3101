// not-aarch64: a crash under qemu-user leaves qemu's own core, and gdb on it needs gdb-multiarch
// Post-mortem: a child process crashes in JIT code and leaves a core file.
// `dlbind core` reads it with dlbind's own reader, writes the library image
// and names the faulting function; gdb on node plus the core names frame #0
// after the shipped extension's one command (and prints `??` without it).
// The core comes from the kernel (ulimit -c unlimited, core_pattern a plain
// file name); where the kernel's cores go elsewhere the tests skip, saying so.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readElf } from '../src/index.js';
import { type Made, cli, makeCore } from './helpers/core.js';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-core-');

let made: Made | string | undefined;
const memfdCore = (): Made | string => {
  if (made === undefined) {
    made = makeCore(join(dir, 'memfd'));
    if (typeof made !== 'string') console.log(`  core from ${made.how}`);
  }
  return made;
};

test('dlbind core writes the library image and names the faulting function', async () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  const out = join(dir, 'extracted');
  const r = await cli(['core', m.core, '-o', out]);
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

/** gdb on node and `core`: `bt 1` before, then the extension's dlbind-symbols, then `bt 12` and `x/1i $pc`. */
function gdbWithExtension(core: string, images: string): { before: string; after: string; out: string } {
  const r = run(
    'gdb',
    [
      ...['-nx', '-batch', '-ex', 'set pagination off', '-ex', 'echo @@before\\n', '-ex', 'bt 1', '-x', resolve('gdb/dlbind.py')],
      ...['-ex', `dlbind-symbols ${images}`, '-ex', 'echo @@after\\n', '-ex', 'bt 12', '-ex', 'x/1i $pc', process.execPath, core],
    ],
    { timeoutMs: 180_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  return { before: /@@before\n([\s\S]*?)dlbind:/.exec(out)?.[1] ?? '', after: out.slice(out.indexOf('@@after')), out };
}

test('gdb on node and the core: frame #0 is the JIT function after dlbind-symbols, ?? before it', () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  if (!have('gdb')) return skipBecause('core gdb test', 'gdb is not installed');
  const { before, after, out } = gdbWithExtension(m.core, join(dir, 'gdb-images'));
  assert.match(before, /#0 +0x[0-9a-f]+ in \?\? \(\)/, out);
  assert.match(after, /#0 +0x[0-9a-f]+ in jit_crash \(\)/, out);
  assert.match(after, /#1 +0x[0-9a-f]+ in jit_outer \(\)/, out);
  assert.match(after, /<jit_crash>:\s+mov\s+0x0,%rax/, out);
  assert.match(out, /dlbind: \/proc\/\d+\/fd\/\d+ \(\/memfd:libcrashtarget\.so \(deleted\)\) at 0x[0-9a-f]+/, out);
});

test("with unwind info, gdb's bt steps from jit_outer straight to its caller and on into node's frames; without it, gdb invents a frame", () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core unwind test', m);
  if (!have('gdb')) return skipBecause('core unwind test', 'gdb is not installed');
  const u = makeCore(join(dir, 'unwind'), { DLBIND_CRASH_UNWIND: '1' });
  if (typeof u === 'string') return skipBecause('core unwind test', u);
  const withRules = gdbWithExtension(u.core, join(dir, 'unwind-images')).after;
  assert.match(withRules, /#0 +0x[0-9a-f]+ in jit_crash \(\)\n#1 +0x[0-9a-f]+ in jit_outer \(\)\n#2 +0x[0-9a-f]+ in \S+ \(\) from \S*koffi[^\n]*\n/, withRules);
  // node's own frames (node is not stripped of its symbols: v8 and node:: names).
  assert.match(withRules, /#\d+ +0x[0-9a-f]+ in (v8|node)\S*::/, withRules);
  // Without rules, gdb takes the word below jit_outer's return address (its 8-byte
  // frame) for the return address: a frame at a stack address, in no object.
  const without = gdbWithExtension(m.core, join(dir, 'plain-images')).after;
  assert.match(without, /#1 +0x[0-9a-f]+ in jit_outer \(\)\n#2 +0x[0-9a-f]+ in \?\? \(\)\n/, without);
});

test('the gdb script dlbind core writes gives gdb the same names', async () => {
  const m = memfdCore();
  if (typeof m === 'string') return skipBecause('core test', m);
  if (!have('gdb')) return skipBecause('core gdb test', 'gdb is not installed');
  const out = join(dir, 'scripted');
  assert.is((await cli(['core', m.core, '-o', out])).status, 0);
  const r = run('gdb', ['-nx', '-batch', '-x', join(out, 'dlbind.gdb'), '-ex', 'bt 1', process.execPath, m.core], { timeoutMs: 180_000 });
  assert.match(r.stdout, /#0 +0x[0-9a-f]+ in jit_crash \(\)/, r.stdout + r.stderr);
});

test('with a file backing the alias lands in the core too (coredump_filter gains file-backed shared memory)', async () => {
  const backing = join(dir, 'backing');
  mkdirSync(backing, { recursive: true });
  const m = makeCore(join(dir, 'file'), { DLBIND_CRASH_BACKING: backing });
  if (typeof m === 'string') return skipBecause('core test', m);
  const r = await cli(['core', m.core, '-o', join(dir, 'file-extracted')]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /faulting frame: pc 0x[0-9a-f]+ in jit_crash/, r.stdout);
  assert.match(r.stdout, new RegExp(`${backing}/libcrashtarget\\.so\\.[0-9a-f]+: libcrashtarget\\.so`), r.stdout);
});

test('dlbind core on a file that is not a core prints one line and exits 1', async () => {
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'core', resolve('package.json')], { timeoutMs: 120_000 });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^dlbind: not a valid ELF64 file: bad ELF magic/, r.stderr);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  const missing = await cli(['core', join(dir, 'nope')]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /cannot read .*nope: no such file or directory/, missing.stderr);
});

test.run();
