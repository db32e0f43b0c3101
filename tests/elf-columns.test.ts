// The writer's bulk entry point (`columns` in a SharedObjectSpec) and its
// columnar core. The same symbols given as objects and as columns must give
// the same bytes; the object form of a plan (PlanSymbol[]) and the columnar
// form must give the same bytes; a columns-built object must load with glibc's
// dlopen and run; and every bad column is an ElfBuildError naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ElfBuildError,
  elfHash,
  buildFromPlan,
  buildSharedObject,
  planSharedObject,
  readElf,
  type SharedObjectSpec,
  type SymbolSpec,
} from '../src/elf/index.js';
import { symbolAt } from '../src/elf/columns.js';
import type { PlanSymbol } from '../src/elf/writer.js';
import { compileC, have, mustRun, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-elf-columns-');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** x86_64 `mov eax, value; ret`. */
function returns(value: number): Uint8Array {
  return Uint8Array.of(0xb8, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24, 0xc3);
}

function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.is(a.length, b.length, `${what}: sizes`);
  let first = -1;
  for (let i = 0; i < a.length && first < 0; i++) if (a[i] !== b[i]) first = i;
  assert.is(first, -1, `${what}: first differing byte`);
}

/** Symbol specs and the same symbols as one block of columns (packed code, names as strings). */
function functions(count: number, name: (i: number) => string) {
  const code = returns(0);
  const bytes = new Uint8Array(count * code.length);
  const names: string[] = [];
  const specs: SymbolSpec[] = [];
  for (let i = 0; i < count; i++) {
    const c = returns(i);
    bytes.set(c, i * c.length);
    names.push(name(i));
    specs.push({ name: name(i), section: 'text', bytes: c });
  }
  const sizes = new Uint32Array(count).fill(code.length);
  return { specs, names, bytes, sizes };
}

/** Names as one buffer of NUL-terminated UTF-8 names. */
function nameBuffer(names: readonly string[]): Uint8Array {
  return utf8(names.map((n) => `${n}\0`).join(''));
}

test('columns give the same bytes as the same symbols given one by one', () => {
  const f = functions(3000, (i) => `fn_${i}`);
  const asObjects = buildSharedObject({ soname: 'libc1.so', symbols: f.specs });
  sameBytes(buildSharedObject({ soname: 'libc1.so', columns: { names: f.names, bytes: f.bytes, sizes: f.sizes } }), asObjects, 'names as strings, sizes');
  sameBytes(
    buildSharedObject({ soname: 'libc1.so', columns: [{ names: nameBuffer(f.names), bytes: f.bytes, sizes: f.sizes }] }),
    asObjects,
    'names as a buffer',
  );
  const offsets = Array.from({ length: 3000 }, (_, i) => i * 6);
  sameBytes(buildSharedObject({ soname: 'libc1.so', columns: { names: f.names, bytes: f.bytes, offsets } }), asObjects, 'offsets only');
  sameBytes(buildSharedObject({ soname: 'libc1.so', columns: { names: f.names, bytes: f.bytes, offsets, sizes: f.sizes } }), asObjects, 'offsets and sizes');
  // Split across a spec list and two blocks, in that order.
  sameBytes(
    buildSharedObject({
      soname: 'libc1.so',
      symbols: f.specs.slice(0, 1000),
      columns: [
        { names: f.names.slice(1000, 2000), bytes: f.bytes.subarray(6000, 12000), sizes: f.sizes.subarray(1000, 2000) },
        { names: nameBuffer(f.names.slice(2000)), bytes: f.bytes.subarray(12000), sizes: f.sizes.subarray(2000) },
      ],
    }),
    asObjects,
    'a list and two blocks',
  );
});

/** x86_64 `mov rax, [rip + puts@GOT]; ret`. */
const LOAD_GOT = Uint8Array.of(0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3);

test('columns: every section, alignment, kind, binding and visibility, non-ASCII names, pointers and references to them', () => {
  const data = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
  const asObjects: SharedObjectSpec = {
    symbols: [
      { name: 'größe', section: 'rodata', bytes: data.subarray(0, 5), align: 32, kind: 'notype' },
      { name: 'öße', section: 'rodata', bytes: data.subarray(5, 6), align: 32, kind: 'notype' },
      { name: 'table', section: 'data', bytes: data.subarray(8, 24), binding: 'weak' },
      { name: 'slot', section: 'data', bytes: data.subarray(24, 40), binding: 'weak' },
      { name: 'hidden_a', section: 'bss', size: 12, visibility: 'hidden' },
      { name: 'hidden_b', section: 'bss', size: 0, visibility: 'hidden' },
      { name: 'entry', section: 'text', bytes: LOAD_GOT, visibility: 'protected' },
    ],
    pointers: [{ symbol: 'slot', offset: 8, target: 'größe', addend: 2 }],
    imports: ['puts'],
    needed: ['libc.so.6'],
    references: [{ symbol: 'entry', offset: 3, target: 'puts', via: 'got' }],
  };
  const asColumns: SharedObjectSpec = {
    columns: [
      { names: nameBuffer(['größe', 'öße']), section: 'rodata', bytes: data.subarray(0, 6), sizes: [5, 1], align: 32, kind: 'notype' },
      { names: ['table', 'slot'], section: 'data', bytes: data, offsets: [8, 24], binding: 'weak' },
      { names: ['hidden_a', 'hidden_b'], section: 'bss', sizes: [12, 0], visibility: 'hidden' },
      { names: ['entry'], bytes: LOAD_GOT, sizes: [LOAD_GOT.length], visibility: 'protected' },
    ],
    pointers: asObjects.pointers,
    imports: asObjects.imports,
    needed: asObjects.needed,
    references: asObjects.references,
  };
  sameBytes(buildSharedObject(asColumns), buildSharedObject(asObjects), 'mixed sections');
});

test('columns placed past 2 GiB into their section align as the same symbols do, and where int32 bits no longer hold the offsets', () => {
  // bss holds no file bytes, so a section of some 2 GiB costs nothing to write.
  const sizes = [2 ** 30 - 3, 5, 2 ** 30 + 1, 3, 1];
  const names = sizes.map((_, i) => `big_${i}`);
  const symbols: SymbolSpec[] = names.map((name, i) => ({ name, section: 'bss', size: sizes[i]!, align: 16 }));
  const fromSymbols = buildSharedObject({ symbols });
  const fromColumns = buildSharedObject({ columns: { names, section: 'bss', sizes, align: 16 } });
  sameBytes(fromColumns, fromSymbols, 'bss past 2 GiB');
  const values = names.map((n) => readElf(fromColumns).symbols.find((s) => s.name === n)!.st_value);
  const step = values.map((v) => Number(v - values[0]!));
  assert.equal(step, [0, 2 ** 30, 2 ** 30 + 16, 2 ** 31 + 32, 2 ** 31 + 48]);
});

test("a plan's section bytes are their section's size, in a buffer of about that size, whatever came first", () => {
  // The text buffer is first sized for the symbols after the first one; here they all go to data.
  const symbols = [
    { name: 't', section: 'text' as const, bytes: [0xc3] },
    ...Array.from({ length: 10_000 }, (_, i) => ({ name: `d${i}`, section: 'data' as const, bytes: [i & 0xff] })),
    { name: 'r', section: 'rodata' as const, bytes: [1, 2, 3], align: 4 },
  ];
  const plan = planSharedObject({ symbols });
  for (const name of ['text', 'data', 'rodata'] as const) {
    const c = plan.sections[name].content!;
    assert.is(c.length, plan.sections[name].size, name);
    assert.ok(c.buffer.byteLength <= 2 * c.length + 64, `${name}: a ${c.buffer.byteLength}-byte buffer for ${c.length} bytes`);
  }
  assert.equal([...plan.sections.text.content!], [0xc3]);
  assert.is(plan.sections.data.content![8 * 9_999], 9_999 & 0xff);
  assert.equal([...plan.sections.rodata.content!], [1, 2, 3]);
});

test("a plan keeps none of the caller's column buffers: names, bytes and sizes reused after planning change nothing", () => {
  for (const asBuffer of [false, true]) {
    const count = 3000;
    const text = Array.from({ length: count }, (_, i) => `reused_${i}\0`).join('');
    const names = asBuffer ? Buffer.from(text, 'latin1') : utf8(text);
    const bytes = new Uint8Array(count).fill(0xc3);
    const sizes = new Uint32Array(count).fill(1);
    const spec: SharedObjectSpec = { columns: { names, bytes, sizes } };
    const before = buildSharedObject(spec);
    const plan = planSharedObject(spec);
    names.fill(0x41, 0, names.length - 1);
    bytes.fill(0x90);
    sizes.fill(7);
    assert.equal(buildFromPlan(plan).bytes, before, asBuffer ? 'a Buffer of names' : 'a Uint8Array of names');
    // The reused buffers now hold one long name: the same spec fails as it should.
    assert.throws(
      () => buildSharedObject(spec),
      (e: unknown) => e instanceof ElfBuildError,
    );
  }
});

test('buildSharedObject reads a names buffer in place and leaves it as it was; one in a SharedArrayBuffer it copies, to the same bytes', () => {
  const count = 3000;
  const text = Array.from({ length: count }, (_, i) => `borrowed_${i}\0`).join('');
  const own = utf8(text);
  const kept = own.slice();
  const shared = new Uint8Array(new SharedArrayBuffer(own.length));
  shared.set(own);
  const columns = (names: Uint8Array) => ({ columns: { names, bytes: new Uint8Array(count).fill(0xc3), sizes: new Uint32Array(count).fill(1) } });
  const fromOwn = buildSharedObject(columns(own));
  assert.equal(own, kept, "the caller's buffer after the build");
  assert.equal(buildSharedObject(columns(shared)), fromOwn, 'names in a SharedArrayBuffer');
  assert.equal(buildFromPlan(planSharedObject(columns(own))).bytes, fromOwn, 'through a plan');
  const names = readElf(fromOwn).dynamicSymbols.map((s) => s.name);
  assert.ok(names.includes('borrowed_0') && names.includes(`borrowed_${count - 1}`), 'the first and last names are in .dynsym');
});

test('the object form of a plan (PlanSymbol[]) and the columnar form write the same bytes', () => {
  const f = functions(2000, (i) => (i % 3 === 0 ? `größe_${i}` : `f${i}`));
  const specs: SymbolSpec[] = f.specs.map((s, i) => ({
    ...s,
    visibility: i % 7 === 0 ? 'hidden' : 'default',
    unwind: i % 5 === 0 ? 'frame-pointer' : undefined,
  }));
  for (const s of specs) if (s.unwind === undefined) delete s.unwind;
  for (const hashStyle of ['sysv', 'gnu', 'both'] as const) {
    const plan = planSharedObject({ hashStyle, symbols: specs, soname: 'libplan.so' });
    assert.ok(plan.columns !== undefined, 'planSharedObject makes a columnar plan');
    const symbols: PlanSymbol[] = Array.from({ length: plan.columns!.count }, (_, i) => symbolAt(plan.columns!, i));
    // Its object form, made when read, is the same symbols.
    assert.equal(plan.symbols, symbols);
    assert.is(plan.symbols.find((s) => s.name === 'f1')?.offset, 16);
    sameBytes(buildFromPlan({ ...plan, columns: undefined, symbols }).bytes, buildFromPlan(plan).bytes, `${hashStyle}: objects vs columns`);
  }
});

test('a columns-built object loads with dlopen, and each of its 10,000 functions returns its own index', () => {
  if (!have('gcc')) return skipBecause('dlopen', 'gcc not installed');
  if (process.arch !== 'x64') return skipBecause('dlopen', 'the functions are x86_64 code');
  const n = 10_000;
  const f = functions(n, (i) => `col_${i}`);
  const lib = join(dir, 'libcolumns.so');
  writeFileSync(lib, buildSharedObject({ soname: 'libcolumns.so', columns: { names: nameBuffer(f.names), bytes: f.bytes, sizes: f.sizes } }));
  const program = compileC(
    dir,
    'call',
    `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { printf("dlopen failed: %s\\n", dlerror()); return 1; }
  int bad = 0;
  char name[32];
  for (int i = 0; i < ${n}; i++) {
    snprintf(name, sizeof name, "col_%d", i);
    int (*fn)(void) = (int (*)(void))dlsym(h, name);
    if (!fn || fn() != i) bad++;
  }
  printf("bad %d absent %s\\n", bad, dlsym(h, "col_${n}") ? "found" : "missing");
  return 0;
}
`,
    ['-ldl'],
    join(dir, 'call'),
  );
  assert.is(mustRun(program, [lib]).stdout.trim(), 'bad 0 absent missing');
});

/** Asserts that building `spec` fails with an ElfBuildError whose message matches. */
/** Both ways in, since buildSharedObject reads a names buffer in place and planSharedObject copies it. */
function rejects(columns: unknown, message: RegExp, extra: Partial<SharedObjectSpec> = {}): void {
  for (const plan of [buildSharedObject, planSharedObject]) {
    try {
      plan({ ...extra, columns } as SharedObjectSpec);
    } catch (e) {
      assert.instance(e, ElfBuildError, plan.name);
      assert.match((e as Error).message, message);
      continue;
    }
    assert.unreachable(`${plan.name}: expected ${message}`);
  }
}

test('bad columns are ElfBuildErrors that name the column and the entry', () => {
  const code = new Uint8Array(12);
  rejects(42, /columns: must be an object, got 42 \(number\)/);
  rejects([{ names: ['a'], sizes: [1], bytes: code }, null], /columns\[1\]: must be an object, got null/);
  rejects({ names: 'a', sizes: [1] }, /columns\.names: must be an array of strings or a Uint8Array of NUL-terminated names/);
  rejects({ names: ['a', 7], sizes: [1, 1] }, /columns\.names\[1\]: must be a string, got number/);
  rejects({ names: ['a', ''], sizes: [1, 1] }, /columns\.names\[1\]: must not be empty/);
  rejects({ names: ['a', 'b\0c'], sizes: [1, 1] }, /columns\.names\[1\]: must not contain NUL/);
  rejects({ names: utf8('a\0b'), sizes: [1, 1] }, /columns\.names: must end with a NUL byte/);
  rejects({ names: utf8('a\0\0b\0'), sizes: [1, 1] }, /columns\.names: holds an empty name at byte 2 \(name 1\)/);
  rejects({ names: ['a', 'b'], bytes: code, sizes: [1] }, /columns\.sizes: has 1 entries for 2 names/);
  rejects({ names: ['a', 'b'], bytes: code, sizes: [1, -1] }, /columns\.sizes\[1\]: must be a non-negative integer, got -1 \(number\)/);
  rejects({ names: ['a', 'b'], bytes: code, sizes: [1, 1.5] }, /columns\.sizes\[1\]: must be a non-negative integer, got 1.5/);
  rejects({ names: ['a', 'b'], bytes: code, sizes: 'no' }, /columns\.sizes: must be an array or typed array of numbers/);
  rejects({ names: ['a', 'b'], bytes: code, sizes: [8, 8] }, /columns\.sizes: add up to 16 bytes, 'bytes' holds 12/);
  rejects({ names: ['a', 'b'], bytes: code, offsets: [4, 2] }, /columns\.offsets: must ascend when 'sizes' is not given: entry 0 is 4, the next 2/);
  rejects({ names: ['a', 'b'], bytes: code, offsets: [0, 8], sizes: [4, 8] }, /columns\.offsets: symbol 1's bytes \[8, \+8\) lie outside 'bytes' \(12 bytes\)/);
  rejects({ names: ['a'], offsets: [0] }, /columns\.offsets: needs 'bytes'/);
  rejects({ names: ['a'] }, /columns: needs 'sizes' or 'offsets'/);
  rejects({ names: ['a'], section: 'bss', bytes: code, sizes: [1] }, /columns\.bytes: is not allowed in 'bss'/);
  rejects({ names: ['a'], section: 'heap', sizes: [1] }, /columns\.section: must be one of 'text', 'rodata', 'data', 'bss', got "heap"/);
  rejects({ names: ['a'], sizes: [1], align: 3 }, /columns\.align: must be a power of two, got 3/);
  rejects({ names: ['a'], sizes: [1], kind: 'function' }, /columns\.kind: must be one of 'func', 'object', 'notype'/);
  rejects({ names: ['a'], sizes: [1], sise: [1] }, /columns: unknown field 'sise' \(did you mean 'sizes'\?\)/);
  rejects({ names: ['a'], bytes: [1, 2], sizes: [1] }, /columns\.bytes: must be a Uint8Array or another ArrayBuffer view/);
  // A names buffer detached (transferred away) before the call holds no names.
  const gone = new Uint8Array(new ArrayBuffer(4));
  gone.set(utf8('a\0b\0'));
  structuredClone(gone.buffer, { transfer: [gone.buffer] });
  rejects({ names: gone, bytes: code, sizes: [1, 1] }, /columns\.sizes: has 2 entries for 0 names/);
  // Duplicates: within a block, and between the list and a block.
  rejects({ names: utf8('x\0y\0x\0'), sizes: [1, 1, 1] }, /columns\.names\[2\]: duplicate symbol name 'x' \(also columns\.names\[0\]\)/);
  rejects([{ names: ['q'], sizes: [1] }], /columns\[0\]\.names\[0\]: duplicate symbol name 'q' \(also symbols\[0\]\)/, {
    symbols: [{ name: 'q', section: 'text', bytes: [0xc3] }],
  });
  // The same object builds once the mistake is gone.
  assert.ok(buildSharedObject({ columns: { names: ['a', 'b'], bytes: code, sizes: [4, 8] } }).length > 0);
});

test('string tables: names as bytes share suffixes exactly as before (brute force, many random names)', () => {
  // Names that end one another, non-ASCII included: the byte-level suffix sort must find every container.
  const parts = ['a', 'b', 'ab', 'ß', '😀', '_x', 'é'];
  let seed = 7;
  const random = () => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const names = new Set<string>();
  while (names.size < 3000) {
    let s = '';
    const k = 1 + (random() % 12);
    for (let j = 0; j < k; j++) s += parts[random() % parts.length];
    names.add(s);
  }
  const list = [...names];
  const bytes = buildSharedObject({ symbols: list.map((name) => ({ name, section: 'data', size: 1 })), staticSymbols: false, hashStyle: 'gnu' });
  // .dynstr is the smallest table that holds every name: one copy of each name that does not end another.
  const optimal = 1 + list.filter((s) => !list.some((t) => t !== s && t.endsWith(s))).reduce((n, s) => n + utf8(s).length + 1, 0);
  const text = new TextDecoder().decode(bytes);
  const file = readElf(bytes);
  const dynstr = file.sections.find((s) => s.name === '.dynstr')!;
  assert.is(Number(dynstr.sh_size), optimal, 'table size');
  for (const name of list) assert.ok(text.includes(`${name}\0`), name);
});

test('beside a GNU table the SysV table has at most 32,771 buckets, as GNU ld sizes it, and still finds every name', () => {
  const n = 70_000;
  const names = Array.from({ length: n }, (_, i) => `h${i}`);
  const sizes = new Uint32Array(n).fill(1);
  for (const [hashStyle, nbucket] of [
    ['both', 32771],
    ['sysv', 65537],
  ] as const) {
    const file = readElf(buildSharedObject({ hashStyle, staticSymbols: false, columns: { names, section: 'data', sizes } }));
    const t = file.sysvHash!;
    assert.is(t.nbucket, nbucket, `${hashStyle}: nbucket`);
    // Walk the table as ld.so's old path does: every name is on the chain of its bucket.
    let missing = 0;
    for (const name of names) {
      let i = t.buckets[elfHash(utf8(name)) % t.nbucket]!;
      while (i !== 0 && file.dynamicSymbols[i]!.name !== name) i = t.chains[i]!;
      if (i === 0) missing++;
    }
    assert.is(missing, 0, `${hashStyle}: names the SysV table does not find`);
    let i = t.buckets[elfHash(utf8('absent')) % t.nbucket]!;
    while (i !== 0 && file.dynamicSymbols[i]!.name !== 'absent') i = t.chains[i]!;
    assert.is(i, 0, 'an absent name is not found');
  }
});

test.run();
