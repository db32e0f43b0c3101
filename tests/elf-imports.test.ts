// Offline objects that call out: imports (versioned), a PLT and GOT the writer
// builds, data words pointing at imports, code references resolved by the
// writer, exported symbol versions, DT_RELR, build-id, DT_RUNPATH and flags.
// Everything is checked by the real tools: linked by GNU ld and lld, dlopen()ed,
// run (aarch64 under qemu when it is installed), read by readelf, objdump and eu-elflint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSharedObject, ElfBuildError, type SharedObjectSpec } from '../src/elf/index.js';
import { decodeRelr, encodeRelr } from '../src/elf/relr.js';
import { canRunX86, compileC, have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';
import { specBytes } from './helpers/spec.js';

const dir = tempDir('dlbind-imports-');
const cstr = (s: string) => [...new TextEncoder().encode(s), 0];
const words = (...insns: number[]) => insns.flatMap((i) => [i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]);
const x86 = process.arch === 'x64' && process.platform === 'linux';

const needs = canRunX86;

function write(name: string, spec: SharedObjectSpec): string {
  const path = join(dir, name);
  writeFileSync(path, buildSharedObject(spec));
  return path;
}

function elflintClean(path: string, allowed: readonly string[] = []): void {
  if (!have('eu-elflint')) {
    skipBecause('eu-elflint', 'not installed');
    return;
  }
  const r = run('eu-elflint', ['--gnu-ld', path]);
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '' && !allowed.some((a) => l.includes(a)));
  assert.ok(lines.length === 0 || (lines.length === 1 && lines[0] === 'No errors'), `eu-elflint --gnu-ld ${path}:\n${r.stdout}${r.stderr}`);
}

/** readelf -W -r, as { offset, type, symbol, addend } rows of every RELA section. */
function relocations(path: string, readelf = 'readelf'): { offset: bigint; type: string; symbol: string; addend: string }[] {
  const out = mustRun(readelf, ['-W', '-r', path]).stdout;
  const rows: { offset: bigint; type: string; symbol: string; addend: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(R_\S+)\s+(?:([0-9a-f]{16})\s+(\S+)\s+\+\s+(\S+)|(\S+))\s*$/.exec(line);
    if (m === null) continue;
    rows.push({ offset: BigInt(`0x${m[1]}`), type: m[2]!, symbol: m[4] ?? '', addend: m[5] ?? m[6]! });
  }
  return rows;
}

function sectionAddr(path: string, name: string, readelf = 'readelf'): bigint {
  const out = mustRun(readelf, ['-W', '-S', path]).stdout;
  const m = new RegExp(`\\s${name.replace(/\./g, '\\.')}\\s+\\S+\\s+([0-9a-f]{16})`).exec(out);
  if (m === null) throw new Error(`no section ${name} in ${path}`);
  return BigInt(`0x${m[1]}`);
}

function symbolAddr(path: string, name: string, readelf = 'readelf'): bigint {
  const out = mustRun(readelf, ['-W', '--dyn-syms', path]).stdout;
  const m = new RegExp(`:\\s+([0-9a-f]{16})\\s+\\d+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\d+\\s+${name}(@|\\s|$)`, 'm').exec(out);
  if (m === null) throw new Error(`no symbol ${name} in ${path}`);
  return BigInt(`0x${m[1]}`);
}

// x86_64: hello() prints "hello 42\n" with printf through its PLT stub and flushes
// stdout, read through its GOT slot. twice() calls hello directly and through hello's
// own GOT slot, then calls puts through a data word holding its address.
// push rbx; lea rdi, [rip+fmt]; mov esi, 42; xor eax, eax; call printf; mov rax, [rip+stdout@GOT]; mov rdi, [rax]; call fflush; pop rbx; ret
const X86_HELLO = [
  0x53, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xbe, 42, 0, 0, 0, 0x31, 0xc0, 0xe8, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0x48, 0x8b, 0x38, 0xe8, 0, 0, 0, 0, 0x5b,
  0xc3,
];
// push rbx; call hello; call [rip+hello@GOT]; mov rax, [rip+table]; lea rdi, [rip+msg]; call rax; pop rbx; ret
const X86_TWICE = [0x53, 0xe8, 0, 0, 0, 0, 0xff, 0x15, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xff, 0xd0, 0x5b, 0xc3];
const EXPECTED = 'hello 42\nhello 42\nhello 42\nputs through a pointer\n';

function x86Spec(soname: string, extra: Partial<SharedObjectSpec> = {}): SharedObjectSpec {
  return {
    soname,
    needed: ['libc.so.6'],
    imports: ['printf@GLIBC_2.2.5', { name: 'stdout', version: 'GLIBC_2.2.5', kind: 'object' }, 'fflush', 'puts@GLIBC_2.2.5'],
    symbols: [
      { name: 'hello', section: 'text', bytes: X86_HELLO },
      { name: 'twice', section: 'text', bytes: X86_TWICE },
      { name: 'fmt', section: 'rodata', bytes: cstr('hello %d\n'), visibility: 'hidden' },
      { name: 'msg', section: 'rodata', bytes: cstr('puts through a pointer'), visibility: 'hidden' },
      { name: 'table', section: 'data', size: 24 },
    ],
    pointers: [
      { symbol: 'table', target: 'puts' },
      { symbol: 'table', offset: 8, target: 'puts', relocation: 'glob_dat' },
      { symbol: 'table', offset: 16, target: 'fmt' },
    ],
    references: [
      { symbol: 'hello', offset: 4, target: 'fmt' },
      { symbol: 'hello', offset: 16, target: 'printf' },
      { symbol: 'hello', offset: 23, target: 'stdout', via: 'got' },
      { symbol: 'hello', offset: 31, target: 'fflush' },
      { symbol: 'twice', offset: 2, target: 'hello', via: 'plt' },
      { symbol: 'twice', offset: 8, target: 'hello', via: 'got' },
      { symbol: 'twice', offset: 15, target: 'table' },
      { symbol: 'twice', offset: 22, target: 'msg' },
    ],
    ...extra,
  };
}

const MAIN_C = 'extern void hello(void);\nextern void twice(void);\nint main(void) { hello(); twice(); return 0; }\n';
const DLOPEN_C = `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  void (*hello)(void) = (void (*)(void))dlsym(h, "hello");
  void (*twice)(void) = (void (*)(void))dlsym(h, "twice");
  if (!hello || !twice) { printf("dlsym failed\\n"); return 1; }
  hello(); twice();
  return 0;
}
`;

test('x86_64: printf through the PLT, stdout through the GOT, linked by GNU ld and lld, and dlopen()ed', () => {
  if (!needs('x86_64 imports', 'gcc', 'readelf')) return;
  const lib = write('libimp.so', x86Spec('libimp.so'));
  compileC(dir, 'main_bfd', MAIN_C, ['-L', dir, '-limp', `-Wl,-rpath,${dir}`], join(dir, 'main_bfd'));
  assert.is(mustRun(join(dir, 'main_bfd'), []).stdout, EXPECTED);
  if (have('ld.lld')) {
    compileC(dir, 'main_lld', MAIN_C, ['-fuse-ld=lld', '-L', dir, '-limp', `-Wl,-rpath,${dir}`], join(dir, 'main_lld'));
    assert.is(mustRun(join(dir, 'main_lld'), []).stdout, EXPECTED);
  } else skipBecause('lld link', 'ld.lld not installed');
  const dl = compileC(dir, 'dlopen', DLOPEN_C, ['-ldl'], join(dir, 'dlopen'));
  assert.is(mustRun(dl, [lib]).stdout, EXPECTED);
  elflintClean(lib);
});

test('x86_64: readelf shows the version needs, the relocations as intended, and objdump the PLT stubs jumping through .got.plt', () => {
  if (!needs('x86_64 imports', 'readelf', 'objdump')) return;
  const lib = join(dir, 'libimp.so');
  const v = mustRun('readelf', ['-W', '-V', lib]).stdout;
  assert.match(v, /Version needs section '\.gnu\.version_r' contains 1 entry/);
  assert.match(v, /File: libc\.so\.6\s+Cnt: 1/);
  assert.match(v, /Name: GLIBC_2\.2\.5\s+Flags: none\s+Version: 2/);
  const got = sectionAddr(lib, '.got');
  const gotPlt = sectionAddr(lib, '.got.plt');
  const table = symbolAddr(lib, 'table');
  const hello = symbolAddr(lib, 'hello');
  const fmt = sectionAddr(lib, '.rodata'); // fmt is the first rodata symbol
  const rows = relocations(lib)
    .map((r) => `${r.offset.toString(16)} ${r.type} ${r.symbol} ${r.addend}`)
    .sort();
  const hex = (x: bigint) => x.toString(16);
  const expected = [
    `${hex(table + 16n)} R_X86_64_RELATIVE  ${hex(fmt)}`,
    `${hex(got + 8n)} R_X86_64_RELATIVE  ${hex(hello)}`,
    `${hex(table)} R_X86_64_64 puts@GLIBC_2.2.5 0`,
    `${hex(table + 8n)} R_X86_64_GLOB_DAT puts@GLIBC_2.2.5 0`,
    `${hex(got)} R_X86_64_GLOB_DAT stdout@GLIBC_2.2.5 0`,
    `${hex(gotPlt + 24n)} R_X86_64_JUMP_SLOT printf@GLIBC_2.2.5 0`,
    `${hex(gotPlt + 32n)} R_X86_64_JUMP_SLOT fflush 0`,
  ].sort();
  assert.equal(rows, expected);
  const d = mustRun('readelf', ['-W', '-d', lib]).stdout;
  assert.match(d, /\(FLAGS\)\s+BIND_NOW/);
  assert.match(d, /\(FLAGS_1\)\s+Flags: NOW/);
  assert.match(d, new RegExp(`\\(PLTGOT\\)\\s+0x${hex(gotPlt)}`));
  const plt = mustRun('objdump', ['-d', '-j', '.plt', lib]).stdout;
  for (const [name, slot] of [
    ['printf', gotPlt + 24n],
    ['fflush', gotPlt + 32n],
  ] as const) {
    const stub = new RegExp(`<${name}@plt>:\\n\\s+[0-9a-f]+:\\s+ff 25 [0-9a-f ]+\\s+jmp\\s+\\*0x[0-9a-f]+\\(%rip\\)\\s+# ${hex(slot)} `).exec(plt);
    assert.ok(stub, `objdump shows ${name}@plt jumping through ${hex(slot)}:\n${plt}`);
  }
});

test('x86_64: lazy binding (bindNow: false) runs too, and an unknown version fails to load', () => {
  if (!needs('x86_64 lazy imports', 'gcc', 'readelf')) return;
  const lazy = write('liblazy.so', x86Spec('liblazy.so', { bindNow: false }));
  assert.not.match(mustRun('readelf', ['-W', '-d', lazy]).stdout, /FLAGS/);
  assert.is(mustRun(join(dir, 'dlopen'), [lazy]).stdout, EXPECTED);
  elflintClean(lazy);
  // The version need is real: ld.so checks it against libc's definitions.
  const spec = x86Spec('libbadver.so');
  const bad = write('libbadver.so', { ...spec, imports: ['printf@GLIBC_9.99', ...spec.imports!.slice(1)] });
  const r = run(join(dir, 'dlopen'), [bad]);
  assert.is(r.status, 1);
  assert.match(r.stdout, /version `GLIBC_9\.99' not found/);
});

test('relro: the GOT is read-only once loaded (a store into it faults), and writable without it', () => {
  if (!needs('relro', 'gcc', 'readelf')) return;
  const lib = write('librelro.so', x86Spec('librelro.so', { relro: true }));
  elflintClean(lib);
  const l = mustRun('readelf', ['-W', '-l', lib]).stdout;
  assert.match(l, /GNU_RELRO\s/);
  assert.match(l, /^\s+\d+\s+\.got \.got\.plt \n(?:.*\n)*\s+\d+\s+\.got \.got\.plt \n/m);
  assert.is(mustRun(join(dir, 'dlopen'), [lib]).stdout, EXPECTED);
  const poke = compileC(
    dir,
    'poke',
    `#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  char *base = (char *)dlsym(h, "hello") - strtol(argv[2], 0, 16);
  volatile long *slot = (long *)(base + strtol(argv[3], 0, 16));
  long v = *slot;
  *slot = v;
  printf("wrote\\n");
  return 0;
}
`,
    ['-ldl'],
    join(dir, 'poke'),
  );
  for (const [path, faults] of [
    [lib, true],
    [join(dir, 'libimp.so'), false],
  ] as const) {
    const args = [path, symbolAddr(path, 'hello').toString(16), sectionAddr(path, '.got').toString(16)];
    const r = run(poke, args);
    if (faults) assert.is(r.signal, 'SIGSEGV', `${path}: ${r.stdout}`);
    else assert.is(r.stdout, 'wrote\n');
  }
});

// aarch64: the same two functions.
// stp x29, x30, [sp, #-16]!; mov x29, sp; adrp x0, fmt; add x0, x0, :lo12:fmt; mov w1, #42; bl printf;
// adrp x0, stdout@GOT; ldr x0, [x0, :got_lo12:stdout]; ldr x0, [x0]; bl fflush; ldp x29, x30, [sp], #16; ret
const A64_HELLO = words(
  0xa9bf7bfd,
  0x910003fd,
  0x90000000,
  0x91000000,
  0x52800541,
  0x94000000,
  0x90000000,
  0xf9400000,
  0xf9400000,
  0x94000000,
  0xa8c17bfd,
  0xd65f03c0,
);
// ...; bl hello; adrp x16, hello@GOT; ldr x16, [x16, ...]; blr x16; adrp x16, table; add x16, x16, :lo12:table; ldr x16, [x16];
// adrp x0, msg; add x0, x0, :lo12:msg; blr x16; ldp; ret
const A64_TWICE = words(
  0xa9bf7bfd,
  0x910003fd,
  0x94000000,
  0x90000010,
  0xf9400210,
  0xd63f0200,
  0x90000010,
  0x91000210,
  0xf9400210,
  0x90000000,
  0x91000000,
  0xd63f0200,
  0xa8c17bfd,
  0xd65f03c0,
);

function a64Spec(): SharedObjectSpec {
  const base = x86Spec('libimp64.so');
  return {
    ...base,
    machine: 'aarch64',
    imports: ['printf@GLIBC_2.17', { name: 'stdout', version: 'GLIBC_2.17', kind: 'object' }, 'fflush', 'puts@GLIBC_2.17'],
    symbols: [{ name: 'hello', section: 'text', bytes: A64_HELLO }, { name: 'twice', section: 'text', bytes: A64_TWICE }, ...base.symbols!.slice(2)],
    references: [
      { symbol: 'hello', offset: 8, target: 'fmt' },
      { symbol: 'hello', offset: 20, target: 'printf' },
      { symbol: 'hello', offset: 24, target: 'stdout', via: 'got' },
      { symbol: 'hello', offset: 36, target: 'fflush' },
      { symbol: 'twice', offset: 8, target: 'hello', via: 'plt' },
      { symbol: 'twice', offset: 12, target: 'hello', via: 'got' },
      { symbol: 'twice', offset: 24, target: 'table' },
      { symbol: 'twice', offset: 36, target: 'msg' },
    ],
  };
}

test('aarch64: the same object passes readelf and eu-elflint, links with aarch64-linux-gnu-gcc, and runs under qemu', () => {
  const lib = write('libimp64.so', a64Spec());
  elflintClean(lib);
  const readelf = have('aarch64-linux-gnu-readelf') ? 'aarch64-linux-gnu-readelf' : 'readelf';
  if (!have(readelf)) return skipBecause('aarch64 readelf', 'not installed');
  const gotPlt = sectionAddr(lib, '.got.plt', readelf);
  const got = sectionAddr(lib, '.got', readelf);
  const table = symbolAddr(lib, 'table', readelf);
  const types = relocations(lib, readelf)
    .map((r) => `${r.offset.toString(16)} ${r.type} ${r.symbol}`)
    .sort();
  assert.equal(
    types,
    [
      `${(table + 16n).toString(16)} R_AARCH64_RELATIVE `,
      `${(got + 8n).toString(16)} R_AARCH64_RELATIVE `,
      `${table.toString(16)} R_AARCH64_ABS64 puts@GLIBC_2.17`,
      `${(table + 8n).toString(16)} R_AARCH64_GLOB_DAT puts@GLIBC_2.17`,
      `${got.toString(16)} R_AARCH64_GLOB_DAT stdout@GLIBC_2.17`,
      `${(gotPlt + 24n).toString(16)} R_AARCH64_JUMP_SLOT printf@GLIBC_2.17`,
      `${(gotPlt + 32n).toString(16)} R_AARCH64_JUMP_SLOT fflush`,
    ].sort(),
  );
  if (have('aarch64-linux-gnu-objdump')) {
    const d = mustRun('aarch64-linux-gnu-objdump', ['-d', lib]).stdout;
    // The stub loads its .got.plt slot: adrp x16 to the slot's page, ldr x17 from the slot's low bits.
    const slot = gotPlt + 24n;
    const m = new RegExp(`<printf@plt>:\\n.*adrp\\s+x16, ${(slot & ~0xfffn).toString(16)} .*\\n.*ldr\\s+x17, \\[x16, #${Number(slot & 0xfffn)}\\]`).exec(d);
    assert.ok(m, `printf@plt loads its slot at ${slot.toString(16)}:\n${d}`);
    assert.match(d, /bl\s+[0-9a-f]+ <printf@plt>/);
  }
  if (!have('aarch64-linux-gnu-gcc')) return skipBecause('aarch64 link', 'aarch64-linux-gnu-gcc not installed');
  const main = join(dir, 'main64.c');
  writeFileSync(main, MAIN_C);
  mustRun('aarch64-linux-gnu-gcc', ['-o', join(dir, 'main64'), main, '-L', dir, '-limp64', `-Wl,-rpath,${dir}`]);
  if (!have('qemu-aarch64-static') || !x86) return skipBecause('aarch64 run', 'qemu-aarch64-static not installed');
  const r = mustRun('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', join(dir, 'main64')]);
  assert.is(r.stdout, EXPECTED);
  // Lazy binding (through PLT0 and ld.so's resolver) and DT_RELR, under the same program.
  write('libimp64.so', { ...a64Spec(), bindNow: false, relr: true });
  assert.not.match(mustRun(readelf, ['-W', '-d', lib]).stdout, /FLAGS/);
  assert.is(mustRun('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', join(dir, 'main64')]).stdout, EXPECTED);
});

const MOV_RET = (v: number) => [0xb8, v, 0, 0, 0, 0xc3]; // mov eax, v; ret

test('exported versions: dlvsym finds name@V1, dlsym skips it, and a program linked against name@@V2 records the need', () => {
  if (!needs('symbol versions', 'gcc', 'readelf')) return;
  const lib = write('libver.so', {
    soname: 'libver.so',
    versions: ['V1', { name: 'V2', parent: 'V1' }], // V1 { ... }; V2 { ... } V1;
    symbols: [
      { name: 'old_f', section: 'text', bytes: MOV_RET(1), version: 'V1', defaultVersion: false },
      { name: 'g', section: 'text', bytes: MOV_RET(2), version: 'V2' },
      { name: 'plain', section: 'text', bytes: MOV_RET(3) },
    ],
  });
  elflintClean(lib);
  const v = mustRun('readelf', ['-W', '-V', lib]).stdout;
  assert.match(v, /Index: 1\s+Cnt: 1\s+Name: libver\.so/);
  assert.match(v, /Index: 2\s+Cnt: 1\s+Name: V1/);
  // Laid out as GNU ld lays out a version script's V2 inheriting V1: a second Verdaux names the parent.
  assert.match(v, /0x0038: Rev: 1\s+Flags: none\s+Index: 3\s+Cnt: 2\s+Name: V2\n\s+0x0054: Parent 1: V1/);
  assert.match(mustRun('readelf', ['-W', '--dyn-syms', lib]).stdout, /old_f@V1/);
  const probe = compileC(
    dir,
    'dlvsym',
    `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  int (*f1)(void) = (int (*)(void))dlvsym(h, "old_f", "V1");
  int (*f2)(void) = (int (*)(void))dlvsym(h, "old_f", "V2");
  int (*g)(void) = (int (*)(void))dlvsym(h, "g", "V2");
  printf("%d %d %d %d %d\\n", f1 ? f1() : -1, f2 != 0, dlsym(h, "old_f") != 0, g ? g() : -1, dlsym(h, "g") == (void *)g);
  return 0;
}
`,
    ['-ldl'],
    join(dir, 'dlvsym'),
  );
  // name@V1 is found only by version; g@@V2 also by plain dlsym, at the same address.
  assert.is(mustRun(probe, [lib]).stdout, '1 0 0 2 1\n');
  const user = compileC(
    dir,
    'uses_g',
    'int g(void);\nint main(void) { return g() == 2 ? 0 : 1; }\n',
    ['-L', dir, '-lver', `-Wl,-rpath,${dir}`],
    join(dir, 'uses_g'),
  );
  mustRun(user, []);
  const need = mustRun('readelf', ['-W', '-V', user]).stdout;
  assert.match(need, /File: libver\.so\s+Cnt: 1\n\s+0x[0-9a-f]+:\s+Name: V2\s+Flags: none/);
  // The need is checked: a libver.so without V2 no longer satisfies the program.
  write('libver.so', { soname: 'libver.so', symbols: [{ name: 'g', section: 'text', bytes: MOV_RET(2), version: 'V3' }] });
  const r = run(user, []);
  assert.not.equal(r.status, 0);
  assert.match(r.stderr, /version `V2' not found/);
});

const RELR_WORDS = 70;

test('DT_RELR: the object loads and every pointer is right; GLIBC_ABI_DT_RELR is needed; RUNPATH and flags are written', () => {
  if (!needs('DT_RELR', 'gcc', 'readelf')) return;
  const spec: SharedObjectSpec = {
    soname: 'librelr.so',
    needed: ['libc.so.6'],
    relr: true,
    runpath: '$ORIGIN',
    flags1: 0x8, // DF_1_NODELETE
    imports: ['puts@GLIBC_2.2.5'],
    symbols: [
      { name: 'f', section: 'text', bytes: MOV_RET(1) },
      { name: 'g', section: 'text', bytes: MOV_RET(2) },
      { name: 'ptrs', section: 'data', size: 8 * RELR_WORDS },
      { name: 'puts_ptr', section: 'data', size: 8 },
      { name: 'bss_ptr', section: 'bss', size: 8 },
    ],
    // Every word but the 6th (a gap for the bitmap) points at f or g.
    pointers: [
      ...Array.from({ length: RELR_WORDS }, (_, i) => ({ symbol: 'ptrs', offset: i * 8, target: i % 2 ? 'f' : 'g' })).filter((_, i) => i !== 5),
      { symbol: 'puts_ptr', target: 'puts' },
      // .bss has no file bytes for RELR's implicit addend: this one stays a RELA RELATIVE.
      { symbol: 'bss_ptr', target: 'g' },
    ],
  };
  const lib = write('librelr.so', spec);
  elflintClean(lib, ["'.relr.dyn' has wrong type: expected REL"]); // elfutils 0.188 predates SHT_RELR; it says the same of GNU ld's output
  const d = mustRun('readelf', ['-W', '-d', lib]).stdout;
  assert.match(d, /\(RELR\)/);
  assert.match(d, /\(RELRSZ\)/);
  assert.match(d, /\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]/);
  assert.match(d, /\(FLAGS_1\)\s+Flags: NOW NODELETE/);
  assert.match(d, /\(RELACOUNT\)\s+1\n/);
  assert.equal(
    relocations(lib).map((r) => r.type),
    ['R_X86_64_RELATIVE', 'R_X86_64_64'],
  );
  assert.match(mustRun('readelf', ['-W', '-V', lib]).stdout, /Name: GLIBC_ABI_DT_RELR/);
  assert.match(
    mustRun('readelf', ['-W', '-r', lib]).stdout,
    new RegExp(`'\\.relr\\.dyn' at offset 0x[0-9a-f]+ contains \\d+ entries:\\n\\s+${RELR_WORDS - 1} offsets`),
  );
  const probe = compileC(
    dir,
    'relr',
    `#include <dlfcn.h>
#include <stdio.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  void **p = dlsym(h, "ptrs"), *f = dlsym(h, "f"), *g = dlsym(h, "g");
  void **pp = dlsym(h, "puts_ptr"), **bp = dlsym(h, "bss_ptr");
  int bad = 0;
  for (int i = 0; i < ${RELR_WORDS}; i++) bad += p[i] != (i == 5 ? 0 : i % 2 ? f : g);
  printf("%d bad, puts %s, bss %s\\n", bad, *pp == (void *)puts ? "right" : "wrong", *bp == g ? "right" : "wrong");
  return 0;
}
`,
    ['-ldl'],
    join(dir, 'relr'),
  );
  assert.is(mustRun(probe, [lib]).stdout, '0 bad, puts right, bss right\n');
});

test('RELR encoding round-trips, with gaps, runs longer than a bitmap, and far jumps', () => {
  const addrs = [0x1000n, 0x1008n, 0x1010n, 0x1030n, ...Array.from({ length: 200 }, (_, i) => 0x2000n + BigInt(i) * 8n), 0x100000n, 0x100208n];
  const enc = encodeRelr([...addrs].reverse());
  assert.equal(decodeRelr(enc), addrs);
  assert.ok(enc.length < addrs.length / 4, `${enc.length} words for ${addrs.length} addresses`);
  assert.throws(() => encodeRelr([0x1004n]), /not 8-byte aligned/);
});

test('build-id: readelf -n shows it; the same spec gives the same id, a changed spec another', () => {
  const spec = (v: number): SharedObjectSpec => ({ soname: 'libid.so', buildId: true, symbols: [{ name: 'f', section: 'text', bytes: MOV_RET(v) }] });
  const id = (name: string, s: SharedObjectSpec) => {
    const path = write(name, s);
    if (!have('readelf')) return '';
    const m = /Build ID: ([0-9a-f]{40})/.exec(mustRun('readelf', ['-W', '-n', path]).stdout);
    assert.ok(m, 'readelf -n shows a 40-digit build ID');
    elflintClean(path);
    return m![1]!;
  };
  const a = id('libid1.so', spec(1));
  const b = id('libid2.so', spec(1));
  const c = id('libid3.so', spec(2));
  if (!have('readelf')) return skipBecause('build-id', 'readelf not installed');
  assert.is(a, b);
  assert.is.not(a, c);
  assert.match(mustRun('readelf', ['-W', '-l', join(dir, 'libid1.so')]).stdout, /NOTE\s/);
});

test("DT_RUNPATH $ORIGIN finds a needed library beside the object, and one of dlbind's own objects imports from another", () => {
  if (!needs('runpath', 'gcc')) return;
  const sub = tempDir('dlbind-runpath-');
  writeFileSync(join(sub, 'libb.so'), buildSharedObject({ soname: 'libb.so', symbols: [{ name: 'from_b', section: 'text', bytes: MOV_RET(77) }] }));
  // a_calls_b: jmp from_b@PLT
  const a = (runpath?: string): SharedObjectSpec => ({
    soname: 'liba.so',
    needed: ['libb.so'],
    runpath,
    imports: ['from_b'],
    symbols: [{ name: 'a_calls_b', section: 'text', bytes: [0xe9, 0, 0, 0, 0] }],
    references: [{ symbol: 'a_calls_b', offset: 1, target: 'from_b' }],
  });
  const probe = compileC(
    dir,
    'runpath',
    `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen failed\\n"); return 1; }
  int (*f)(void) = (int (*)(void))dlsym(h, "a_calls_b");
  printf("%d\\n", f());
  return 0;
}
`,
    ['-ldl'],
    join(dir, 'runpath'),
  );
  writeFileSync(join(sub, 'liba.so'), buildSharedObject(a('$ORIGIN')));
  assert.is(mustRun(probe, [join(sub, 'liba.so')]).stdout, '77\n');
  writeFileSync(join(sub, 'liba-norunpath.so'), buildSharedObject(a()));
  assert.is(run(probe, [join(sub, 'liba-norunpath.so')]).stdout, 'dlopen failed\n');
});

test('bad links are ElfBuildErrors naming the field', () => {
  const base = x86Spec('libbad.so');
  const bad = (patch: Partial<SharedObjectSpec>, field: string, message: RegExp) => {
    try {
      buildSharedObject({ ...base, ...patch });
    } catch (err) {
      assert.instance(err, ElfBuildError);
      assert.is((err as ElfBuildError).field, field);
      assert.match((err as Error).message, message);
      return;
    }
    assert.unreachable(`accepted ${JSON.stringify(patch)}`);
  };
  bad({ references: [{ symbol: 'hello', offset: 16, target: 'nothing' }] }, 'references[0].target', /no symbol or import named 'nothing'/);
  bad({ references: [{ symbol: 'hello', offset: 16, target: 'printf', via: 'direct' }] }, 'references[0].via', /only be reached through/);
  bad({ references: [{ symbol: 'hello', offset: 36, target: 'printf' }] }, 'references[0].offset', /exceeds the symbol's size/);
  bad({ references: [{ symbol: 'hello', offset: 16, target: 'printf', encoding: 'call26' }] }, 'references[0].encoding', /aarch64 encoding/);
  bad({ imports: ['printf', 'printf'] }, 'imports[1].name', /duplicate import/);
  bad({ imports: ['hello'] }, 'imports[0].name', /defined in the object itself/);
  bad({ imports: ['memcpy@'] }, 'imports[0].name', /is not 'name@VERSION'/);
  bad({ needed: ['libc.so.6', 'libm.so.6'] }, 'imports[0].from', /needs 'from'/);
  bad({ pointers: [{ symbol: 'table', target: 'puts', relocation: 'glob_dat', addend: 8 }] }, 'pointers[0].addend', /no addend/);
  bad({ pointers: [{ symbol: 'table', target: 'fmt', relocation: 'glob_dat' }] }, 'pointers[0].relocation', /is for imports/);
  bad({ versions: [{ name: 'V2', parent: 'V1' }, 'V1'] }, 'versions[0].parent', /not a version listed before it/);
  bad({ soname: undefined, symbols: [{ name: 'v', section: 'text', bytes: [0xc3], version: 'V1' }], references: [], pointers: [] }, 'soname', /base version/);
  // An aarch64 reference whose instruction is not the one its encoding patches.
  const a = a64Spec();
  bad({ ...a, references: [{ symbol: 'hello', offset: 0, target: 'printf' }] }, 'references[0]', /expected an aarch64 b or bl here, found 0xa9bf7bfd/);
});

test('dlbind build takes the linking keys from JSON', () => {
  if (!needs('dlbind build with imports', 'gcc')) return;
  const hex = (b: readonly number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const spec = { ...x86Spec('libjson.so'), buildId: true };
  const json = { ...spec, symbols: spec.symbols!.map((s) => ({ ...s, bytes: hex(Array.from(specBytes(s))) })) };
  const path = join(dir, 'spec.json');
  writeFileSync(path, JSON.stringify(json));
  const out = join(dir, 'libjson.so');
  mustRun(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/cli/main.ts'), 'build', path, '-o', out]);
  assert.is(mustRun(join(dir, 'dlopen'), [out]).stdout, EXPECTED);
  writeFileSync(path, JSON.stringify({ ...json, references: [{ symbol: 'hello', offset: 16, target: 'printf', via: 'plt', typo: 1 }] }));
  const r = run(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/cli/main.ts'), 'build', path, '-o', out]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /references\[0\]: unknown field 'typo'/);
});

test.run();
