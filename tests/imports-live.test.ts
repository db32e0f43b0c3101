// Not tagged 'arch: aarch64' only to keep the arm64 suite inside its time budget: its three
// Node children take about 4 minutes under qemu. With the tag, `npm run test:aarch64 --
// imports-live` passes (5/5: brk's SIGTRAP, the saved object run by an aarch64 C program).
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
import { compileC, have, mustRun, run, skipBecause, targetCC, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-imports-live-');
const src = resolve('src/index.ts');
const relocations = resolve('src/elf/relocations.ts');
const arm = process.arch === 'arm64';
/** What calling through a slot to an unbound symbol dies of: ud2 on x86_64, brk on aarch64. */
const TRAP = arm ? 'SIGTRAP' : 'SIGILL';
const R = arm ? 'R_AARCH64' : 'R_X86_64';

function child(name: string, body: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { dlcreate, dlfunc } from ${JSON.stringify(src)};
import { encodeAdrp, encodeLo12 } from ${JSON.stringify(relocations)};
type Lib = ReturnType<typeof dlcreate>;
const arm = process.arch === 'arm64';
const enc = (s: string) => new TextEncoder().encode(s);
const words = (...w: number[]) => {
  const b = new Uint8Array(w.length * 4);
  w.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x, true));
  return b;
};
const rel32 = (code: Uint8Array, off: number, at: bigint, target: bigint) => new DataView(code.buffer).setInt32(off, Number(target - (at + BigInt(off) + 4n)), true);
function put(lib: Lib, name: string, size: number, make: (at: bigint) => Uint8Array) {
  const at = lib.alloc(size, 4);
  lib.write(at, make(at));
  lib.bind(name, at, size);
  return at;
}
/** int f(void): a tail call through a slot. x86_64: jmp [rip+slot]; aarch64: adrp x16; ldr x16, [x16, lo12]; br x16 */
const tailThrough = (lib: Lib, name: string, slot: bigint) =>
  arm
    ? put(lib, name, 12, (at) => words(encodeAdrp(0x90000010, at, slot), encodeLo12(0xf9400210, slot, 8), 0xd61f0200))
    : put(lib, name, 6, (at) => {
        const c = Uint8Array.of(0xff, 0x25, 0, 0, 0, 0);
        rel32(c, 2, at, slot);
        return c;
      });
/** int say(void) { puts(msg); return 7; }, puts called through a slot */
const sayThrough = (lib: Lib, name: string, msg: bigint, slot: bigint) =>
  arm
    ? put(lib, name, 40, (at) =>
        // stp x29, x30, [sp, #-16]!; mov x29, sp; adrp x0, msg; add x0, x0, lo12; adrp x16, slot; ldr x16, [x16, lo12]; blr x16; mov w0, #7; ldp; ret
        words(0xa9bf7bfd, 0x910003fd, encodeAdrp(0x90000000, at + 8n, msg), encodeLo12(0x91000000, msg, 1), encodeAdrp(0x90000010, at + 16n, slot), encodeLo12(0xf9400210, slot, 8), 0xd63f0200, 0x528000e0, 0xa8c17bfd, 0xd65f03c0),
      )
    : put(lib, name, 27, (at) => {
        // sub rsp, 8; lea rdi, [rip+msg]; call [rip+slot]; mov eax, 7; add rsp, 8; ret
        const c = Uint8Array.of(0x48, 0x83, 0xec, 0x08, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xff, 0x15, 0, 0, 0, 0, 0xb8, 7, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08, 0xc3);
        rel32(c, 7, at, msg);
        rel32(c, 13, at, slot);
        return c;
      });
/** int g(void) { return n; }   x86_64: mov eax, n; ret   aarch64: mov w0, #n; ret */
const returns = (n: number) => (arm ? words((0x52800000 | (n << 5)) >>> 0, 0xd65f03c0) : Uint8Array.of(0xb8, n, 0, 0, 0, 0xc3));
${body}
`,
  );
  // Under the arm64 suite the child is Node under qemu: slow to start, so the limit is generous.
  return run(process.execPath, ['--import', 'tsx', path], { timeoutMs: 400_000 });
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

function needs(what: string, ...tools: string[]): boolean {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    skipBecause(what, `live libraries run on Linux x86_64 and aarch64, this is ${process.platform}/${process.arch}`);
    return false;
  }
  const missing = tools.map((t) => (t === 'cc' ? targetCC() : t)).filter((t) => !have(t));
  if (missing.length > 0) skipBecause(what, `${missing.join(', ')} not installed`);
  return missing.length === 0;
}

test("lib.import('puts'): a JIT function calls puts through its slot; dlsave's copy does the same in a C program without dlbind", () => {
  if (!needs('live imports', 'cc', 'readelf')) return;
  const saved = join(dir, 'libsay.so');
  const r = child(
    'puts',
    `const lib = dlcreate();
const slot = lib.import('puts');
const msg = lib.addData('msg', enc('hello through a slot\\0'));
const say = sayThrough(lib, 'say', msg, slot);
if (lib.import('puts') !== slot) throw new Error('a second import gave another slot');
const ret = (dlfunc(say, 'int say(void)') as () => number)();
lib.save(${JSON.stringify(saved)});
console.log('returned', ret);
`,
  );
  assert.is(r.status, 0, `signal ${r.signal}: ${r.stderr}`);
  assert.is(r.stdout, 'hello through a slot\nreturned 7\n');
  const d = mustRun('readelf', ['-W', '-d', saved]).stdout;
  assert.match(d, /\(NEEDED\)\s+Shared library: \[libc\.so\.6\]/);
  assert.match(mustRun('readelf', ['-W', '-r', saved]).stdout, new RegExp(`${R}_GLOB_DAT\\s+0+ puts \\+ 0`));
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
    const base = arm ? 'GLIBC_2.17' : 'GLIBC_2.2.5';
    const old = lib.import('memcpy', { version: base });
    const current = lib.import('memcpy');
    assert.is.not(old, current);
    assert.is(word(old), c.dlvsym(0n, 'memcpy', base));
    assert.is(word(current), c.dlsym(0n, 'memcpy'));
    if (!arm) assert.is.not(word(old), word(current), 'memcpy@GLIBC_2.2.5 and memcpy@@GLIBC_2.14 are different functions');
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
    assert.match(v, new RegExp(`File: libc\\.so\\.6\\s+Cnt: 1\\n\\s+0x[0-9a-f]+:\\s+Name: ${base.replaceAll('.', '\\.')}`));
    const d = mustRun('readelf', ['-W', '-d', saved]).stdout;
    assert.match(d, /\[libc\.so\.6\]/);
    assert.match(d, /\[libm\.so\.6\]/);
    const syms = mustRun('readelf', ['-W', '--dyn-syms', saved]).stdout;
    assert.match(syms, new RegExp(`UND memcpy@${base.replaceAll('.', '\\.')} \\(\\d\\)\\n`));
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

test("a slot for the library's own function: callers reach the replacement, and after unbind calling traps (SIGILL or SIGTRAP), never stale code", () => {
  if (!needs('own slots', 'cc')) return;
  const saved = join(dir, 'libslot.so');
  const r = child(
    'own',
    `const lib = dlcreate();
const slot = lib.import('g', { from: lib });
const f = tailThrough(lib, 'f', slot);
const callF = dlfunc(f, 'int f(void)') as () => number;
lib.addFunction('g', returns(1));
console.log('first', callF());
lib.addFunction('g', returns(2), { replace: true });
console.log('replaced', callF());
lib.save(${JSON.stringify(saved)});
const h = lib.addFunction('h', returns(3));
const hSlot = lib.import('h');
if (lib.import('h', { from: lib }) !== hSlot) throw new Error('a bound name and from: lib are the same slot');
lib.free(h);
lib.addFunction('g', returns(4), { replace: true });
console.log('again', callF());
lib.unbind('g');
console.log('unbound, calling');
callF();
console.log('still running');
`,
  );
  assert.is(r.stdout, 'first 1\nreplaced 2\nagain 4\nunbound, calling\n', r.stderr);
  assert.is(r.signal, TRAP, `status ${r.status}, signal ${r.signal}: ${r.stderr}`);
  // The saved copy's slot is a RELATIVE relocation to the g it held then.
  const probe = join(dir, 'dlopen');
  if (!have('readelf')) return;
  compileC(dir, 'dlopen', DLOPEN_C, ['-ldl'], probe);
  assert.is(mustRun(probe, [saved, 'f']).stdout, 'returned 2\n');
});

test("freeing a called function's block points its slot at the trap too", () => {
  if (!needs('own slots after free')) return;
  const r = child(
    'free',
    `const lib = dlcreate();
const g = lib.addFunction('g', returns(5));
const slot = lib.import('g');
const f = tailThrough(lib, 'f', slot);
const callF = dlfunc(f, 'int f(void)') as () => number;
console.log('before', callF());
lib.free(g);
// New code in the freed block's place must not be reached through the old slot.
lib.addFunction('other', returns(9));
callF();
console.log('still running');
`,
  );
  assert.is(r.stdout, 'before 5\n', r.stderr);
  assert.is(r.signal, TRAP, `status ${r.status}: ${r.stderr}`);
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
