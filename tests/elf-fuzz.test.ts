// readElf on hostile input: every input either parses or throws ElfFormatError, quickly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readElf, type ElfFile, type ReadOptions } from '../src/elf/reader.js';
import { ElfFormatError } from '../src/elf/errors.js';
import { DT_DEBUG, DT_GNU_HASH, DT_HASH, DT_STRSZ, DT_SYMTAB, PT_DYNAMIC, SHT_NOBITS, SYM64_SIZE } from '../src/elf/constants.js';
import {
  SAMPLE_C,
  buildSharedObject,
  dynamicEntry,
  fileBytes,
  handmadeElf,
  imageBase,
  memoryImage,
  systemLibrary,
  type Handmade,
} from './elf-samples.js';

const RUNS = Number(process.env.ELF_FUZZ_RUNS ?? 50_000);

interface Seed {
  name: string;
  pristine: Uint8Array;
  /** A working copy, mutated in place and restored after each run (libc is 2 MB). */
  work: Uint8Array;
  options: ReadOptions;
  /** [start, end) ranges worth hitting: headers, tables, hash tables, string tables. */
  areas: [number, number][];
  /** How often it is picked, out of the sum of weights. */
  weight: number;
}

function areasOf(elf: ElfFile, length: number, memory: boolean, base = 0n): [number, number][] {
  const areas: [number, number][] = [[0, 64]];
  const h = elf.header;
  areas.push([Number(h.e_phoff), Number(h.e_phoff) + 56 * h.e_phnum]);
  const dyn = elf.segments.find((p) => p.p_type === PT_DYNAMIC);
  if (dyn) areas.push(memory ? [Number(dyn.p_vaddr - base), Number(dyn.p_vaddr - base + dyn.p_filesz)] : [Number(dyn.p_offset), Number(dyn.p_offset + dyn.p_filesz)]);
  if (!memory) areas.push([Number(h.e_shoff), Number(h.e_shoff) + 64 * h.e_shnum]);
  for (const s of elf.sections) {
    if (!['.hash', '.gnu.hash', '.dynsym', '.dynstr', '.gnu.version', '.rela.dyn', '.symtab', '.shstrtab'].includes(s.name) || s.sh_type === SHT_NOBITS) continue;
    const start = memory ? Number(s.sh_addr - base) : Number(s.sh_offset);
    areas.push([start, start + Math.min(Number(s.sh_size), 512)]);
  }
  areas.push([0, length]);
  return areas.filter(([a, b]) => a >= 0 && b <= length && a < b);
}

function seed(name: string, bytes: Uint8Array, weight: number, memory = false): Seed {
  const file = readElf(bytes);
  const pristine = memory ? memoryImage(bytes, file) : bytes;
  const base = memory ? imageBase(file) : 0n;
  return {
    name,
    pristine,
    work: pristine.slice(),
    options: memory ? { layout: 'memory' } : {},
    areas: areasOf(file, pristine.length, memory, base),
    weight,
  };
}

const sample = fileBytes(buildSharedObject('fuzz-sample', SAMPLE_C(30), ['-Wl,--hash-style=both']));
const seeds = [
  seed('gcc .so', sample, 60),
  seed('gcc .so image', sample, 10, true),
  seed('libm.so.6', fileBytes(systemLibrary('libm.so.6')), 15),
  seed('libc.so.6', fileBytes(systemLibrary('libc.so.6')), 15),
];
const totalWeight = seeds.reduce((n, s) => n + s.weight, 0);
function pick(n: number): Seed {
  let w = n % totalWeight;
  for (const s of seeds) {
    if (w < s.weight) return s;
    w -= s.weight;
  }
  return seeds[0]!;
}

const U64 = 2n ** 64n - 1n;
const value = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 0xffn, 0x100n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, U64, 24n, 56n, 64n),
  fc.bigInt({ min: 0n, max: U64 }),
  fc.bigInt({ min: 0n, max: 0x400000n }),
  // Near the input's length, where bounds checks are off by one.
  fc.integer({ min: -80, max: 80 }).map((d) => ({ nearEnd: d })),
);
/** One run in five. */
function sometimes<T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: a, weight: 1 });
}
const mutation = fc.record({ area: fc.nat(), pos: fc.nat(), width: fc.constantFrom(1, 2, 4, 8), value });
const input = fc.record({
  seed: fc.nat(),
  mutations: fc.array(mutation, { maxLength: 6 }),
  cut: sometimes(fc.record({ area: fc.nat(), pos: fc.nat() })),
  splice: sometimes(fc.record({ other: fc.nat(), from: fc.record({ area: fc.nat(), pos: fc.nat() }), to: fc.record({ area: fc.nat(), pos: fc.nat() }), length: fc.integer({ min: 1, max: 4096 }) })),
});

function place(s: Seed, p: { area: number; pos: number }): number {
  const [a, b] = s.areas[p.area % s.areas.length]!;
  return a + (p.pos % (b - a));
}

/** Applies the mutations to the seed's working copy; returns the input and a function that undoes them. */
type Input = typeof input extends fc.Arbitrary<infer T> ? T : never;

function build(s: Seed, c: Input): [Uint8Array, () => void] {
  const touched: [number, number][] = [];
  const view = new DataView(s.work.buffer);
  for (const m of c.mutations) {
    const at = Math.min(place(s, m), s.work.length - m.width);
    const v = typeof m.value === 'bigint' ? m.value : BigInt(Math.max(0, s.work.length + m.value.nearEnd));
    if (m.width === 1) view.setUint8(at, Number(v & 0xffn));
    else if (m.width === 2) view.setUint16(at, Number(v & 0xffffn), true);
    else if (m.width === 4) view.setUint32(at, Number(v & 0xffffffffn), true);
    else view.setBigUint64(at, v & U64, true);
    touched.push([at, at + m.width]);
  }
  if (c.splice) {
    const other = seeds[c.splice.other % seeds.length]!;
    const from = place(other, c.splice.from);
    const to = place(s, c.splice.to);
    const chunk = other.pristine.subarray(from, Math.min(from + c.splice.length, other.pristine.length, from + s.work.length - to));
    s.work.set(chunk, to);
    touched.push([to, to + chunk.length]);
  }
  const bytes = c.cut ? s.work.subarray(0, place(s, c.cut)) : s.work;
  return [bytes, () => touched.forEach(([a, b]) => s.work.set(s.pristine.subarray(a, b), a))];
}

const PROBES = ['printf', 'memcpy', 'add', 'counter', 'generated_7', 'no_such_name', ''];

/** Parses and uses the result as a caller would; returns whether it parsed. */
const reasons = new Map<string, number>();
function exercise(bytes: Uint8Array, options: ReadOptions): boolean {
  try {
    const elf = readElf(bytes, options);
    for (const name of PROBES) elf.lookup(name);
    for (const s of elf.dynamicSymbols.slice(0, 8)) elf.lookup(s.name);
    elf.section('.dynsym');
    return true;
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    const reason = e.what.replace(/\d+|0x[0-9a-f]+|\.[\w.]+/g, '#');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    return false;
  }
}

test(`${RUNS} mutated, truncated and spliced images: parse or ElfFormatError, never anything else`, () => {
  const stats = new Map(seeds.map((s) => [s.name, { runs: 0, parsed: 0, slowest: 0 }]));
  let slowest = { ms: 0, what: '' };
  const started = performance.now();
  fc.assert(
    fc.property(input, (c) => {
      const s = pick(c.seed);
      const [bytes, undo] = build(s, c);
      const t = performance.now();
      try {
        const parsed = exercise(bytes, s.options);
        const ms = performance.now() - t;
        const st = stats.get(s.name)!;
        st.runs++;
        if (parsed) st.parsed++;
        if (ms > st.slowest) st.slowest = ms;
        if (ms > slowest.ms) slowest = { ms, what: `${s.name} ${JSON.stringify(c, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}` };
      } finally {
        undo();
      }
    }),
    { numRuns: RUNS },
  );
  for (const [name, st] of stats) console.log(`  ${name}: ${st.runs} runs, ${st.parsed} parsed, slowest ${st.slowest.toFixed(1)} ms`);
  console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s; slowest input ${slowest.ms.toFixed(1)} ms: ${slowest.what.slice(0, 300)}`);
  const common = [...reasons].sort((a, b) => b[1] - a[1]);
  console.log(`  ${common.length} distinct errors; most common: ${common.slice(0, 6).map(([r, n]) => `${n}× ${r}`).join('; ')}`);
  for (const s of seeds) assert.equal(s.work, s.pristine, `${s.name} restored`);
});

function expectFormatError(bytes: Uint8Array, pattern: RegExp, options: ReadOptions = {}, use?: (elf: ElfFile) => unknown): void {
  try {
    const elf = readElf(bytes, options);
    if (!use) assert.unreachable('readElf accepted it');
    use!(elf);
    assert.unreachable('it was accepted');
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    assert.match(e.message, pattern);
  }
}

function patch(h: Handmade, at: number, width: 4 | 8, v: bigint | number): Uint8Array {
  const bytes = h.bytes.slice();
  const view = new DataView(bytes.buffer);
  if (width === 4) view.setUint32(at, Number(v), true);
  else view.setBigUint64(at, BigInt(v), true);
  return bytes;
}

/** Turns a dynamic tag into DT_DEBUG, which the reader ignores, so that the other hash table is used. */
function without(h: Handmade, tag: number): Handmade {
  return { ...h, bytes: patch(h, dynamicEntry(h, tag), 8, DT_DEBUG) };
}

test('the hand-made object reads back, through both hash tables', () => {
  const names = ['alpha', 'beta', 'gamma', 'delta'];
  const h = handmadeElf(names, 2);
  for (const bytes of [h.bytes, without(h, DT_GNU_HASH).bytes, without(h, DT_HASH).bytes]) {
    const elf = readElf(bytes);
    assert.equal(elf.dynamicSymbols.map((s) => s.name), ['', ...names]);
    for (const n of names) assert.is(elf.lookup(n)?.name, n);
    assert.is(elf.lookup('epsilon'), undefined);
  }
});

test('hostile: a SysV chain that loops', () => {
  const h = without(handmadeElf(['a', 'b', 'c'], 1), DT_GNU_HASH);
  // Symbols were prepended to the one bucket: 3 -> 2 -> 1 -> 0. Make 1 point back at 3.
  const chains = h.at.hash + 8 + 4;
  const bytes = patch(h, chains + 4 * 1, 4, 3);
  expectFormatError(bytes, /DT_HASH chain loops/, {}, (elf) => elf.lookup('zzz'));
});

test('hostile: a SysV chain index past nchain, and a bucket past the symbols', () => {
  const h = without(handmadeElf(['a', 'b', 'c'], 1), DT_GNU_HASH);
  expectFormatError(patch(h, h.at.hash + 8 + 4 + 4, 4, 1000), /past nchain/, {}, (elf) => elf.lookup('zzz'));
});

test('hostile: a GNU chain with no end bit runs off the table', () => {
  const h = without(handmadeElf(['a', 'b', 'c']), DT_HASH);
  const last = h.bytes.length - 4;
  const bytes = patch(h, last, 4, new DataView(h.bytes.buffer).getUint32(last, true) & ~1);
  expectFormatError(bytes, /DT_GNU_HASH chain runs off the table/);
});

test('hostile: GNU bucket below symoffset, bloom size not a power of two, nbuckets 0', () => {
  const h = without(handmadeElf(['a', 'b', 'c']), DT_HASH);
  expectFormatError(patch(h, h.at.gnuHash + 4, 4, 5), /below symoffset/);
  expectFormatError(patch(h, h.at.gnuHash + 8, 4, 3), /bloom size is not a power of two/);
  expectFormatError(patch(h, h.at.gnuHash + 8, 4, 0x40000000), /bloom filter: .* do not fit/);
  expectFormatError(patch(h, h.at.gnuHash, 4, 0), /nbuckets is 0/);
});

test('hostile: counts that do not fit are refused before anything is allocated', () => {
  const h = handmadeElf(['a', 'b']);
  expectFormatError(patch(h, h.at.hash + 4, 4, 0xffffffff), /DT_HASH buckets and chains: .* do not fit/);
  expectFormatError(patch(h, h.at.hash, 4, 0xfffffff0), /do not fit/);
  expectFormatError(patch(h, dynamicEntry(h, DT_STRSZ) + 8, 8, 2n ** 62n), /DT_STRTAB .* runs past its segment/);
});

test('hostile: e_shnum huge, section 0 sh_size huge, sh_size huge, e_shstrndx past the end', () => {
  const so = fileBytes(buildSharedObject('hostile', SAMPLE_C(3)));
  const file = readElf(so);
  const shoff = Number(file.header.e_shoff);
  const edit = (f: (v: DataView) => void): Uint8Array => {
    const b = so.slice();
    f(new DataView(b.buffer));
    return b;
  };
  const e_shnum = (n: number, size0: bigint) => (v: DataView) => {
    v.setUint16(60, n, true);
    v.setBigUint64(shoff + 32, size0, true);
  };
  expectFormatError(edit(e_shnum(0xffff, 0n)), /section header table: 65535 entries/);
  expectFormatError(edit(e_shnum(0, 2n ** 40n)), /section header table: 1099511627776 entries/);
  expectFormatError(edit(e_shnum(0, 2n ** 63n)), /section count .* out of range/);
  const dynsym = file.sections.findIndex((s) => s.name === '.dynsym');
  expectFormatError(edit((v) => v.setBigUint64(shoff + 64 * dynsym + 32, 2n ** 62n * 3n, true)), /section \d+ \.dynsym .* lies outside the input/);
  expectFormatError(edit((v) => v.setBigUint64(shoff + 64 * dynsym + 32, BigInt(SYM64_SIZE * 3 + 1), true)), /not a multiple of 24/);
  expectFormatError(edit((v) => v.setBigUint64(shoff + 64 * dynsym + 56, 16n, true)), /sh_entsize is not 24/);
  expectFormatError(edit((v) => v.setUint32(shoff + 64 * dynsym + 40, 9999, true)), /sh_link is not a section/);
  expectFormatError(edit((v) => v.setUint16(62, file.header.e_shnum, true)), /e_shstrndx is past/);
});

test('hostile: e_phoff past the end, string index past the end, unterminated string', () => {
  const h = handmadeElf(['a', 'b']);
  expectFormatError(patch(h, 32, 8, h.bytes.length + 8), /program header table: 2 entries .* do not fit/);
  expectFormatError(patch(h, 32, 8, U64), /e_phoff is out of range/);
  expectFormatError(patch(h, h.at.dynsym + SYM64_SIZE, 4, 1000), /string index past the end of DT_STRTAB/);
  const noNul = h.bytes.slice();
  noNul[h.at.dynstr + 4] = 0x41; // "a\0b\0" -> "a\0bA"
  expectFormatError(noNul, /unterminated string in DT_STRTAB/);
});

test('hostile: addresses outside every segment, or in the image only past its end', () => {
  const h = handmadeElf(['a']);
  const symtab = dynamicEntry(h, DT_SYMTAB) + 8;
  expectFormatError(patch(h, symtab, 8, 0x10_0000), /DT_SYMTAB address lies in no PT_LOAD/);
  expectFormatError(patch(h, symtab, 8, 0x10_0000), /DT_SYMTAB address lies outside the image/, { layout: 'memory' });
  // p_filesz shorter than p_memsz: the tables now lie in .bss, which has no bytes in the file.
  const bss = patch(h, 64 + 32, 8, 64);
  expectFormatError(bss, /past its PT_LOAD's p_filesz/);
});

test('hostile: non-ASCII names that overlap cannot make decoding quadratic', () => {
  // One long non-ASCII string, and every symbol naming a different suffix of it.
  const n = 4000;
  const names = [Array.from({ length: 20_000 }, () => 'é').join('')];
  const h = handmadeElf([...names, ...Array.from({ length: n }, (_, i) => `s${i}`)]);
  const bytes = h.bytes.slice();
  const view = new DataView(bytes.buffer);
  for (let i = 2; i <= n + 1; i++) view.setUint32(h.at.dynsym + SYM64_SIZE * i, 1 + 2 * (i % 9000), true);
  const t = performance.now();
  expectFormatError(bytes, /overlap too much/);
  assert.ok(performance.now() - t < 2000);
});

test.run();
