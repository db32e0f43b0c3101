// Live libraries that call out: lib.import() slots resolved through libc
// dlsym/dlvsym, slots for the library's own symbols that follow replace and
// unbind (a trap, never freed code), and dlsave writing imports so that the
// saved object resolves them by itself in a process without dlbind.
// Calls that print or trap run in a child process, so the test reads their
// stdout and their signal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DlbindError, dlcreate, dlimport } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { canRunX86, compileC, have, mustRun, run, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-imports-live-');
const src = resolve('src/index.ts');

function child(name: string, body: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { dlcreate, dlfunc } from ${JSON.stringify(src)};
const enc = (s: string) => new TextEncoder().encode(s);
/** x86_64 code with rel32 fields patched: fields are [offset, target] pairs, the field ending the instruction. */
function place(lib: ReturnType<typeof dlcreate>, name: string, bytes: number[], fields: [number, bigint][], options = {}) {
  const code = Uint8Array.from(bytes);
  const at = lib.alloc(code.length, 4);
  const view = new DataView(code.buffer);
  for (const [off, target] of fields) view.setInt32(off, Number(target - (at + BigInt(off) + 4n)), true);
  lib.write(at, code);
  lib.bind(name, at, code.length, undefined, options);
  return at;
}
${body}
`,
  );
  return run(process.execPath, ['--import', 'tsx', path], { timeoutMs: 60_000 });
}

const DLOPEN_C = `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  int (*f)(void) = (int (*)(void))dlsym(h, argv[2]);
  if (!f) { printf("no %s\\n", argv[2]); return 1; }
  int r = f();
  printf("returned %d\\n", r);
  return 0;
}
`;

const needs = canRunX86;

test("lib.import('puts'): a JIT function calls puts through its slot; dlsave's copy does the same in a C program without dlbind", () => {
  if (!needs('live imports', 'gcc', 'readelf')) return;
  const saved = join(dir, 'libsay.so');
  // say: sub rsp, 8; lea rdi, [rip+msg]; call [rip+puts@slot]; mov eax, 7; add rsp, 8; ret
  const r = child(
    'puts',
    `const lib = dlcreate();
const slot = lib.import('puts');
const msg = lib.addData('msg', enc('hello through a slot\\0'));
const say = place(lib, 'say', [0x48, 0x83, 0xec, 0x08, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xff, 0x15, 0, 0, 0, 0, 0xb8, 7, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08, 0xc3], [[7, msg], [13, slot]]);
if (lib.import('puts') !== slot) throw new Error('a second import gave another slot');
const ret = (dlfunc(say, 'int say(void)') as () => number)();
lib.save(${JSON.stringify(saved)});
console.log('returned', ret);
`,
  );
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'hello through a slot\nreturned 7\n');
  const d = mustRun('readelf', ['-W', '-d', saved]).stdout;
  assert.match(d, /\(NEEDED\)\s+Shared library: \[libc\.so\.6\]/);
  assert.match(mustRun('readelf', ['-W', '-r', saved]).stdout, /R_X86_64_GLOB_DAT\s+0+ puts \+ 0/);
  assert.match(mustRun('readelf', ['-W', '--dyn-syms', saved]).stdout, /UND puts\n/);
  if (have('eu-elflint')) assert.is(run('eu-elflint', ['--gnu-ld', saved]).stdout.trim(), 'No errors');
  const probe = compileC(dir, 'dlopen', DLOPEN_C, ['-ldl'], join(dir, 'dlopen'));
  assert.is(mustRun(probe, [saved, 'say']).stdout, 'hello through a slot\nreturned 7\n');
});

test('imports by version and from a given library resolve as dlvsym and dlopen+dlsym do; dlsave keeps the version need', () => {
  if (!needs('versioned live imports', 'readelf')) return;
  const lib = dlcreate();
  try {
    const c = getLibc();
    const word = (slot: bigint) => c.readPointer(slot);
    const old = lib.import('memcpy', { version: 'GLIBC_2.2.5' });
    const current = lib.import('memcpy');
    assert.is.not(old, current);
    assert.is(word(old), c.dlvsym(0n, 'memcpy', 'GLIBC_2.2.5'));
    assert.is(word(current), c.dlsym(0n, 'memcpy'));
    assert.is.not(word(old), word(current), 'memcpy@GLIBC_2.2.5 and memcpy@@GLIBC_2.14 are different functions');
    const cos = lib.import('cos', { from: 'libm.so.6' });
    assert.is((lib.func(word(cos), 'double cos(double)') as (x: number) => number)(0), 1);
    assert.is(dlimport(lib, 'cos', { from: 'libm.so.6' }), cos);
    const errorCode = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.instance(err, DlbindError);
        return (err as DlbindError).code;
      }
      return 'no error';
    };
    assert.is(
      errorCode(() => lib.import('no_such_function_anywhere')),
      'ENOENT',
    );
    assert.is(
      errorCode(() => lib.import('memcpy', { version: 'GLIBC_9.99' })),
      'ENOENT',
    );
    assert.is(
      errorCode(() => lib.import('cos', { from: 'libnothere.so.42' })),
      'ELIBC',
    );
    assert.is(
      errorCode(() => lib.import('x', { version: '' })),
      'EINVAL',
    );
    const saved = join(dir, 'libversions.so');
    lib.save(saved);
    const v = mustRun('readelf', ['-W', '-V', saved]).stdout;
    assert.match(v, /File: libc\.so\.6\s+Cnt: 1\n\s+0x[0-9a-f]+:\s+Name: GLIBC_2\.2\.5/);
    const d = mustRun('readelf', ['-W', '-d', saved]).stdout;
    assert.match(d, /\[libc\.so\.6\]/);
    assert.match(d, /\[libm\.so\.6\]/);
    const syms = mustRun('readelf', ['-W', '--dyn-syms', saved]).stdout;
    assert.match(syms, /UND memcpy@GLIBC_2\.2\.5 \(\d\)\n/);
    assert.match(syms, /UND memcpy\n/);
    assert.match(syms, /UND cos\n/);
    // Both resolve at load, each to its own version.
    const probe = compileC(
      dir,
      'versions',
      `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  if (!dlopen(argv[1], RTLD_NOW)) { printf("dlopen: %s\\n", dlerror()); return 1; }
  printf("ok\\n");
  return 0;
}
`,
      ['-ldl'],
      join(dir, 'versions'),
    );
    assert.is(mustRun(probe, [saved]).stdout, 'ok\n');
  } finally {
    lib.delete();
  }
});

test("a slot for the library's own function: callers reach the replacement, and after unbind calling traps (SIGILL), never stale code", () => {
  if (!needs('own slots', 'gcc')) return;
  const saved = join(dir, 'libslot.so');
  // g: mov eax, N; ret. f: jmp [rip+g@slot] (a tail call through the slot).
  const r = child(
    'own',
    `const lib = dlcreate();
const slot = lib.import('g', { from: lib });
const f = place(lib, 'f', [0xff, 0x25, 0, 0, 0, 0], [[2, slot]]);
const callF = dlfunc(f, 'int f(void)') as () => number;
lib.addFunction('g', Uint8Array.of(0xb8, 1, 0, 0, 0, 0xc3));
console.log('first', callF());
lib.addFunction('g', Uint8Array.of(0xb8, 2, 0, 0, 0, 0xc3), { replace: true });
console.log('replaced', callF());
lib.save(${JSON.stringify(saved)});
const h = lib.addFunction('h', Uint8Array.of(0xb8, 3, 0, 0, 0, 0xc3));
const hSlot = lib.import('h');
if (lib.import('h', { from: lib }) !== hSlot) throw new Error('a bound name and from: lib are the same slot');
lib.free(h);
lib.addFunction('g', Uint8Array.of(0xb8, 4, 0, 0, 0, 0xc3), { replace: true });
console.log('again', callF());
lib.unbind('g');
console.log('unbound, calling');
callF();
console.log('still running');
`,
  );
  assert.is(r.stdout, 'first 1\nreplaced 2\nagain 4\nunbound, calling\n', r.stderr);
  assert.is(r.signal, 'SIGILL', `status ${r.status}, signal ${r.signal}: ${r.stderr}`);
  // The saved copy's slot is a RELATIVE relocation to the g it held then.
  const probe = join(dir, 'dlopen');
  if (!have('readelf')) return;
  compileC(dir, 'dlopen', DLOPEN_C, ['-ldl'], probe);
  assert.is(mustRun(probe, [saved, 'f']).stdout, 'returned 2\n');
});

test("freeing a called function's block points its slot at the trap too", () => {
  if (!needs('own slots after free', 'gcc')) return;
  const r = child(
    'free',
    `const lib = dlcreate();
const g = lib.addFunction('g', Uint8Array.of(0xb8, 5, 0, 0, 0, 0xc3));
const slot = lib.import('g');
const f = place(lib, 'f', [0xff, 0x25, 0, 0, 0, 0], [[2, slot]]);
const callF = dlfunc(f, 'int f(void)') as () => number;
console.log('before', callF());
lib.free(g);
// New code in the freed block's place must not be reached through the old slot.
lib.addFunction('other', Uint8Array.of(0xb8, 9, 0, 0, 0, 0xc3));
callF();
console.log('still running');
`,
  );
  assert.is(r.stdout, 'before 5\n', r.stderr);
  assert.is(r.signal, 'SIGILL');
});

test('slot blocks and the trap are not blocks a caller can free; a deleted library refuses imports', () => {
  if (!needs('import misuse')) return;
  const lib = dlcreate();
  const slot = lib.import('puts');
  try {
    lib.free(slot);
    assert.unreachable('freed an import slot');
  } catch (err) {
    assert.instance(err, DlbindError);
    assert.is((err as DlbindError).code, 'EFOREIGN');
  }
  lib.delete();
  try {
    lib.import('puts');
    assert.unreachable('imported into a deleted library');
  } catch (err) {
    assert.is((err as DlbindError).code, 'EDELETED');
  }
});

test.run();
