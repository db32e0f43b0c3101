// Generated shared objects used for real: C programs link against them with
// GNU ld and lld and call their code and read their data, and dlopen them and
// find every symbol with dlsym and name it with dladdr, under each hash style,
// with thousands of symbols (hash chains, the GNU bloom filter, shared name
// suffixes) and with 100,000. Expected values come from the specs written here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSharedObject, type SharedObjectSpec, type SymbolSpec } from '../src/elf/index.js';
import { compileC, have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';
import { specBytes, specSize } from './helpers/spec.js';

const dir = tempDir('dlbind-elf-link-');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = (b: Uint8Array | readonly number[]): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const le = (value: bigint, width: number): number[] => Array.from({ length: width }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
const readLe = (bytes: Uint8Array, at: number, width: number): bigint => {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
};

const x86 = process.arch === 'x64' && process.platform === 'linux';
function needs(what: string, ...tools: string[]): boolean {
  if (!x86) {
    skipBecause(what, `runs x86_64 code, this is ${process.platform}/${process.arch}`);
    return false;
  }
  const missing = tools.filter((t) => !have(t));
  if (missing.length > 0) skipBecause(what, `${missing.join(', ')} not installed`);
  return missing.length === 0;
}

// x86_64 code, written by hand.
const MOV_EAX = (v: number) => [0xb8, ...le(BigInt(v >>> 0), 4), 0xc3]; // mov eax, imm32; ret
const ANSWER = MOV_EAX(42); // b8 2a 00 00 00 c3
const ADD = [0x8d, 0x04, 0x37, 0xc3]; // lea eax, [rdi+rsi]; ret
const COUNTER = 0x1122334455667788n;
const TABLE = [10, -20, 30, 0x7fffffff];
const GREETING = 'grüße, 世界';
const ZEROS = 4096;

/** A library with code, constants, initialised data, bss, pointers between them and a hidden helper. */
function mainSpec(hashStyle: 'sysv' | 'gnu' | 'both', soname: string): SharedObjectSpec {
  return {
    soname,
    hashStyle,
    needed: hashStyle === 'both' ? ['libc.so.6'] : [],
    symbols: [
      { name: 'answer', section: 'text', bytes: ANSWER },
      { name: 'add', section: 'text', bytes: ADD, binding: 'weak' },
      { name: 'helper', section: 'text', bytes: MOV_EAX(7), visibility: 'hidden' },
      { name: 'table', section: 'rodata', bytes: TABLE.flatMap((v) => le(BigInt.asUintN(32, BigInt(v)), 4)), align: 4 },
      { name: 'greeting', section: 'rodata', bytes: [...utf8(GREETING), 0], align: 1 },
      { name: 'counter', section: 'data', bytes: le(COUNTER, 8) },
      { name: 'zeros', section: 'bss', size: ZEROS, align: 64 },
      { name: 'ptrs', section: 'data', size: 32 },
      { name: 'größe', section: 'data', bytes: le(0xc0ffeen, 8) },
    ],
    pointers: [
      { symbol: 'ptrs', offset: 0, target: 'table', addend: 4 },
      { symbol: 'ptrs', offset: 8, target: 'answer' },
      { symbol: 'ptrs', offset: 16, target: 'zeros', addend: 100 },
      { symbol: 'ptrs', offset: 24, target: 'helper' },
    ],
  };
}

// ---------------------------------------------------------------------------
// Linking against the library.

const LINKED_C = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

extern int answer(void);
extern int add(int, int);
extern const int table[4];
extern const char greeting[];
extern long long counter;
extern unsigned char zeros[${ZEROS}];
extern void *ptrs[4];

static int fails;
#define CHECK(c) do { if (c) printf("ok %s\n", #c); else { printf("FAIL %s\n", #c); fails++; } } while (0)

/* Whether p points n bytes into the library's symbol called name, by dladdr. */
static int points_into(const void *p, const char *name, long n) {
  Dl_info info;
  if (!dladdr(p, &info) || !info.dli_sname) return 0;
  return strcmp(info.dli_sname, name) == 0 && (const char *)p - (const char *)info.dli_saddr == n && strstr(info.dli_fname, "libgen") != 0;
}

int main(void) {
  CHECK(answer() == 42);
  CHECK(add(40, 2) == 42);
  CHECK(add(-5, 3) == -2);
  CHECK(table[0] == ${TABLE[0]} && table[1] == ${TABLE[1]} && table[2] == ${TABLE[2]} && table[3] == ${TABLE[3]});
  CHECK(strcmp(greeting, "${GREETING}") == 0);
  CHECK(counter == ${COUNTER}LL);
  counter += 1;
  CHECK(counter == ${COUNTER + 1n}LL);
  int nonzero = 0;
  for (int i = 0; i < ${ZEROS}; i++) nonzero |= zeros[i];
  CHECK(nonzero == 0);
  zeros[${ZEROS - 1}] = 1;
  CHECK(zeros[${ZEROS - 1}] == 1);
  /* The pointers were relocated to their targets in the library. */
  CHECK(points_into(ptrs[0], "table", 4));
  CHECK(*(const int *)ptrs[0] == ${TABLE[1]});
  CHECK(points_into(ptrs[1], "answer", 0));
  CHECK(((int (*)(void))ptrs[1])() == 42);
  CHECK(ptrs[1] == (void *)answer);
  CHECK(points_into(ptrs[2], "zeros", 100));
  CHECK(((int (*)(void))ptrs[3])() == 7); /* the hidden helper */
#ifdef NO_COPY_RELOCATIONS
  /* Built -fPIC: data is reached through the GOT, so these are the library's own objects. */
  CHECK(ptrs[0] == (void *)&table[1]);
  CHECK(ptrs[2] == (void *)&zeros[100]);
  CHECK(((unsigned char *)ptrs[2])[${ZEROS - 1 - 100}] == 1);
#endif
  printf("%d failed\n", fails);
  return fails != 0;
}
`;

function linkAndRun(libDir: string, exeName: string, extra: string[]): string {
  const exe = join(libDir, exeName);
  compileC(libDir, exeName, LINKED_C, [`-L${libDir}`, '-lgen', '-ldl', ...extra], exe);
  const r = run(exe, [], { env: { ...process.env, LD_LIBRARY_PATH: libDir } });
  assert.ok(r.status === 0 && /^0 failed$/m.test(r.stdout), `${exeName} (${extra.join(' ')}) exit ${r.signal ?? r.status}:\n${r.stdout}${r.stderr}`);
  const needed = mustRun('readelf', ['-dW', exe]).stdout;
  assert.match(needed, /\(NEEDED\)\s+Shared library: \[libgen\.so\.1\]/, 'the program records the soname');
  return r.stdout;
}

for (const hashStyle of ['sysv', 'gnu', 'both'] as const) {
  test(`${hashStyle}: a C program linked with -lgen calls the generated functions and reads its data`, () => {
    if (!needs(`linking (${hashStyle})`, 'gcc', 'readelf')) return;
    const libDir = join(dir, `link-${hashStyle}`);
    mkdirSync(libDir, { recursive: true });
    writeSharedObject(join(libDir, 'libgen.so'), mainSpec(hashStyle, 'libgen.so.1'));
    writeSharedObject(join(libDir, 'libgen.so.1'), mainSpec(hashStyle, 'libgen.so.1'));
    linkAndRun(libDir, 'linked-bfd', []);
    linkAndRun(libDir, 'linked-bfd-pic', ['-fPIC', '-DNO_COPY_RELOCATIONS']);
    if (have('ld.lld')) {
      linkAndRun(libDir, 'linked-lld', ['-fuse-ld=lld']);
      linkAndRun(libDir, 'linked-lld-pic', ['-fuse-ld=lld', '-fPIC', '-DNO_COPY_RELOCATIONS']);
    } else skipBecause(`linking with lld (${hashStyle})`, 'ld.lld not installed');
  });
}

// ---------------------------------------------------------------------------
// dlopen, dlsym, dladdr.

const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* probe LIB NAMES: each line of NAMES is "hexname size". For each name prints
   "absent HEX", or "found HEX OFFSET SADDR_OK HEXSNAME HEXSNAME_LAST BYTES":
   OFFSET = dlsym - dli_fbase, SADDR_OK = dladdr(p) gave dli_saddr == p and dli_fname == LIB,
   HEXSNAME and HEXSNAME_LAST = dli_sname for p and for p + size - 1 ("-" when none),
   BYTES = the first min(size, 32) bytes at p. Then calls answer() and add(40, 2) when present. */
static void unhex(const char *h, char *out) {
  size_t n = 0;
  for (; h[0] && h[1]; h += 2) { unsigned v; sscanf(h, "%2x", &v); out[n++] = (char)v; }
  out[n] = 0;
}
static void puthex(const char *s) {
  if (!s) { fputs("-", stdout); return; }
  if (!*s) { fputs("=", stdout); return; }
  for (; *s; s++) printf("%02x", (unsigned char)*s);
}
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
  FILE *f = fopen(argv[2], "r");
  static char hex[1 << 14], name[1 << 13];
  long size;
  while (fscanf(f, "%16383s %ld", hex, &size) == 2) {
    unhex(hex, name);
    unsigned char *p = dlsym(h, name);
    if (!p) { printf("absent %s\n", hex); continue; }
    Dl_info a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ra = dladdr(p, &a);
    int rb = dladdr(p + (size > 1 ? size - 1 : 0), &b);
    printf("found %s %lx %d ", hex, (unsigned long)(p - (unsigned char *)a.dli_fbase),
           ra && a.dli_saddr == p && a.dli_fname && strcmp(a.dli_fname, argv[1]) == 0);
    puthex(ra ? a.dli_sname : 0);
    putchar(' ');
    puthex(rb ? b.dli_sname : 0);
    putchar(' ');
    for (long i = 0; i < size && i < 32; i++) printf("%02x", p[i]);
    putchar('\n');
  }
  int (*answer)(void) = (int (*)(void))dlsym(h, "answer");
  int (*add)(int, int) = (int (*)(int, int))dlsym(h, "add");
  if (answer) printf("call answer %d\n", answer());
  if (add) printf("call add %d\n", add(40, 2));
  if (dlclose(h) != 0) { printf("dlclose failed: %s\n", dlerror()); return 1; }
  return 0;
}
`;

let probeExe: string | undefined;
function probe(): string {
  probeExe ??= compileC(dir, 'probe', PROBE_C, ['-ldl'], join(dir, 'probe'));
  return probeExe;
}

interface Found {
  offset: bigint;
  saddrOk: boolean;
  sname: string | undefined;
  snameLast: string | undefined;
  bytes: Uint8Array;
}
interface ProbeResult {
  found: Map<string, Found>;
  absent: Set<string>;
  calls: Map<string, number>;
}

const decodeName = (h: string): string | undefined => (h === '-' ? undefined : h === '=' ? '' : new TextDecoder().decode(fromHex(h)));

/** dlopens `lib` in a C program and looks up each name; size is how many bytes to dump and where to probe dladdr's last byte. */
function probeLibrary(lib: string, queries: ReadonlyArray<{ name: string; size: number }>): ProbeResult {
  const list = join(dir, `names-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(list, `${queries.map((q) => `${toHex(utf8(q.name))} ${q.size}`).join('\n')}\n`);
  const r = run(probe(), [lib, list]);
  assert.is(r.status, 0, `probe ${lib} exit ${r.signal ?? r.status}:\n${r.stdout.slice(0, 2000)}${r.stderr}`);
  const result: ProbeResult = { found: new Map(), absent: new Set(), calls: new Map() };
  for (const line of r.stdout.split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'absent') result.absent.add(decodeName(w[1]!)!);
    else if (w[0] === 'found') {
      result.found.set(decodeName(w[1]!)!, {
        offset: BigInt(`0x${w[2]}`),
        saddrOk: w[3] === '1',
        sname: decodeName(w[4]!),
        snameLast: decodeName(w[5]!),
        bytes: fromHex(w[6] ?? ''),
      });
    } else if (w[0] === 'call') result.calls.set(w[1]!, Number(w[2]));
  }
  return result;
}

const sizeOf = specSize;
const exported = (s: SymbolSpec): boolean => s.visibility !== 'hidden' && s.visibility !== 'internal';

/** Every exported symbol is found, at its own address, named by dladdr at its first and last byte, holding its spec bytes. */
function checkAllFound(spec: SharedObjectSpec, res: ProbeResult, pointerWords = new Set<string>()): void {
  const symbols = (spec.symbols ?? []).filter(exported);
  const offsets = new Set<bigint>();
  for (const s of symbols) {
    const f = res.found.get(s.name);
    assert.ok(f, `dlsym found ${JSON.stringify(s.name)}`);
    assert.ok(f!.saddrOk, `dladdr(dlsym(${s.name})) gives dli_saddr == the address and dli_fname == the file`);
    assert.is(f!.sname, s.name, `dladdr names ${JSON.stringify(s.name)}`);
    assert.is(f!.snameLast, s.name, `dladdr names ${JSON.stringify(s.name)} from its last byte`);
    const size = sizeOf(s);
    const want = new Uint8Array(Math.min(size, 32));
    want.set(specBytes(s).slice(0, want.length));
    const got = Uint8Array.from(f!.bytes);
    for (let off = 0; off < want.length; off += 8) if (pointerWords.has(`${s.name}+${off}`)) got.fill(0, off, off + 8);
    assert.is(toHex(got), toHex(want), `bytes at dlsym(${s.name})`);
    const align = BigInt(s.align ?? (s.section === 'text' ? 16 : 8));
    assert.is(f!.offset % align, 0n, `${s.name} is aligned to ${align} in memory`);
    offsets.add(f!.offset);
  }
  assert.is(offsets.size, symbols.length, 'every symbol has its own address');
}

for (const hashStyle of ['sysv', 'gnu', 'both'] as const) {
  test(`${hashStyle}: dlopen finds every symbol with dlsym, dladdr names each, hidden ones stay hidden`, () => {
    if (!needs(`dlopen (${hashStyle})`, 'gcc')) return;
    const spec = mainSpec(hashStyle, 'libgen.so.1');
    const lib = join(dir, `dl-${hashStyle}.so`);
    writeSharedObject(lib, spec);
    const symbols = spec.symbols!;
    const res = probeLibrary(lib, [
      ...symbols.map((s) => ({ name: s.name, size: sizeOf(s) })),
      ...['answe', 'nswer', 'answerr', 'Answer', 'grosse', 'ße', 'zero'].map((name) => ({ name, size: 1 })),
    ]);
    const ptrWords = new Set(spec.pointers!.map((p) => `${p.symbol}+${p.offset ?? 0}`));
    checkAllFound(spec, res, ptrWords);
    assert.ok(res.absent.has('helper'), 'the hidden symbol is not found by dlsym');
    for (const n of ['answe', 'nswer', 'answerr', 'Answer', 'grosse', 'ße', 'zero']) assert.ok(res.absent.has(n), `absent name ${n} is not found`);
    assert.is(res.calls.get('answer'), 42);
    assert.is(res.calls.get('add'), 42);
    // The relocated pointers hold base + the target's offset + addend.
    const ptrs = res.found.get('ptrs')!;
    const base = (name: string) => res.found.get(name)!.offset;
    const word = (i: number) => readLe(ptrs.bytes, i * 8, 8);
    const loadBase = word(1) - base('answer'); // ptrs[1] = &answer
    assert.ok(loadBase > 0n && loadBase % 4096n === 0n, `load base 0x${loadBase.toString(16)} is page aligned`);
    assert.is(word(0) - loadBase, base('table') + 4n, 'ptrs[0] = &table + 4');
    assert.is(word(2) - loadBase, base('zeros') + 100n, 'ptrs[2] = &zeros + 100');
    // dlsym - dli_fbase is the st_value that nm -D reads from the file.
    if (have('nm')) {
      for (const line of mustRun('nm', ['-D', lib]).stdout.trim().split('\n')) {
        const [addr, , name] = line.split(' ');
        assert.is(res.found.get(name!)?.offset, BigInt(`0x${addr}`), `dlsym(${name}) - base vs nm -D`);
      }
    } else skipBecause('dlsym offsets against nm -D', 'nm not installed');
    const greeting = res.found.get('greeting')!;
    assert.is(new TextDecoder().decode(greeting.bytes.subarray(0, greeting.bytes.indexOf(0))), GREETING);
  });
}

test('a read-only .dynamic, an empty library and a functions-only library load too', () => {
  if (!needs('dlopen variants', 'gcc')) return;
  const variants: SharedObjectSpec[] = [
    { ...mainSpec('gnu', 'libro.so'), dynamicWritable: false },
    { ...mainSpec('sysv', 'libro.so'), dynamicWritable: false, needed: ['libm.so.6'] },
    { symbols: [] },
    { hashStyle: 'gnu', dynamicWritable: false },
    { hashStyle: 'sysv', symbols: [{ name: 'answer', section: 'text', bytes: ANSWER }] },
  ];
  variants.forEach((spec, i) => {
    const lib = join(dir, `variant-${i}.so`);
    writeSharedObject(lib, spec);
    const symbols = spec.symbols ?? [];
    const res = probeLibrary(lib, [...symbols.map((s) => ({ name: s.name, size: sizeOf(s) })), { name: 'nothing_here', size: 1 }]);
    checkAllFound(spec, res, new Set((spec.pointers ?? []).map((p) => `${p.symbol}+${p.offset ?? 0}`)));
    assert.ok(res.absent.has('nothing_here'), `variant ${i}: absent name not found`);
    if (symbols.some((s) => s.name === 'answer')) assert.is(res.calls.get('answer'), 42, `variant ${i}: answer()`);
  });
});

// ---------------------------------------------------------------------------
// Many symbols: hash chains, the bloom filter, names that are suffixes of others.

/** 5,000 names: "fooN" and "x_fooN" share their string-table bytes, as do "fN" and "x_fN"; some are non-ASCII. */
function manySymbols(): SymbolSpec[] {
  const out: SymbolSpec[] = [];
  for (let i = 0; i < 2000; i++) {
    out.push({ name: `foo${i}`, section: 'data', bytes: le(BigInt(i), 8) });
    out.push({ name: `x_foo${i}`, section: i % 2 ? 'rodata' : 'data', bytes: le(BigInt(i + 1_000_000), 8) });
  }
  for (let i = 0; i < 400; i++) {
    out.push({ name: `f${i}`, section: 'text', bytes: MOV_EAX(i), align: 8 });
    out.push({ name: `x_f${i}`, section: 'text', bytes: MOV_EAX(-i), align: 1 });
  }
  for (let i = 0; i < 200; i++) out.push({ name: `日本${i}`, section: 'bss', size: 1 + (i % 5), align: 1 });
  return out;
}
const MANY_ABSENT = [
  'foo2000',
  'x_foo2000',
  'oo1',
  'o1',
  '1',
  'x_foo',
  'foo',
  'x_',
  'f400',
  'x_f400',
  'F1',
  'foo1 ',
  '日本',
  '本1',
  'printf',
  'malloc',
  'x_x_foo1',
  'foo01',
];

for (const hashStyle of ['sysv', 'gnu', 'both'] as const) {
  test(`${hashStyle}: 5,000 symbols with shared suffixes are all found, absent names are not`, () => {
    if (!needs(`many symbols (${hashStyle})`, 'gcc')) return;
    const symbols = manySymbols();
    assert.is(symbols.length, 5000);
    const spec: SharedObjectSpec = { hashStyle, symbols };
    const lib = join(dir, `many-${hashStyle}.so`);
    writeSharedObject(lib, spec);
    const res = probeLibrary(lib, [...symbols.map((s) => ({ name: s.name, size: sizeOf(s) })), ...MANY_ABSENT.map((name) => ({ name, size: 1 }))]);
    checkAllFound(spec, res);
    assert.equal(
      MANY_ABSENT.filter((n) => !res.absent.has(n)),
      [],
      'absent names found by dlsym',
    );
    assert.is(res.found.size, 5000);
  });
}

// ---------------------------------------------------------------------------
// 100,000 symbols.

test('100,000 symbols: the object is written, readelf reads it, and a sample is found by dlsym', () => {
  if (!needs('100,000 symbols', 'gcc')) return;
  const symbols: SymbolSpec[] = new Array(100_000);
  for (let i = 0; i < symbols.length; i++) {
    const kind = i % 4;
    symbols[i] =
      kind === 0
        ? { name: `jit_fn_${i}`, section: 'text', bytes: MOV_EAX(i), align: 8 }
        : kind === 1
          ? { name: `jit_data_${i}`, section: 'data', bytes: le(BigInt(i) * 3n, 8) }
          : kind === 2
            ? { name: `jit_ro_${i}`, section: 'rodata', bytes: le(BigInt(i), 4), align: 4 }
            : { name: `jit_bss_${i}`, section: 'bss', size: 8 };
  }
  const spec: SharedObjectSpec = { soname: 'libbig.so', symbols };
  const lib = join(dir, 'big.so');
  const started = process.hrtime.bigint();
  const bytes = writeSharedObject(lib, spec);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`  100,000 symbols: ${bytes} bytes written in ${ms.toFixed(0)} ms`);

  if (have('readelf')) {
    const r = run('readelf', ['-W', '-a', lib]);
    assert.is(r.stderr, '', 'readelf -W -a stderr');
    assert.equal(
      r.stdout.split('\n').filter((l) => /warning|error/i.test(l)),
      [],
      'readelf -W -a warnings',
    );
    assert.match(r.stdout, /Symbol table '\.dynsym' contains 100001 entries/);
  } else skipBecause('readelf of 100,000 symbols', 'readelf not installed');
  if (have('eu-elflint')) {
    const r = run('eu-elflint', ['--gnu-ld', lib]);
    assert.is(r.stdout.trim(), 'No errors', `eu-elflint --gnu-ld: ${r.stdout.slice(0, 2000)}${r.stderr}`);
  } else skipBecause('eu-elflint of 100,000 symbols', 'eu-elflint not installed');

  let seed = 99;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 4) % n;
  const sample = new Set<number>([0, 1, 2, 99_999, 99_998, 99_997]);
  while (sample.size < 3000) sample.add(rand(symbols.length));
  const picked = [...sample].map((i) => symbols[i]!);
  const absent = ['jit_fn_1', 'jit_data_0', 'jit_ro_1', 'jit_bss_100000', 'jit_fn_', 'fn_3', 'jit_fn_00'];
  const res = probeLibrary(lib, [...picked.map((s) => ({ name: s.name, size: sizeOf(s) })), ...absent.map((name) => ({ name, size: 1 }))]);
  checkAllFound({ symbols: picked }, res);
  assert.equal(
    absent.filter((n) => !res.absent.has(n)),
    [],
    'absent names found by dlsym',
  );
});

test.run();
