// readElf on hostile input: every input either parses or throws ElfFormatError, and the slowest are reported.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readElf, type ElfFile, type ReadOptions } from '../src/elf/reader.js';
import { ElfFormatError } from '../src/elf/errors.js';
import { DT_DEBUG, DT_GNU_HASH, DT_HASH, DT_STRSZ, DT_SYMTAB, SYM64_SIZE } from '../src/elf/constants.js';
import { SAMPLE_C, buildSharedObject, dynamicEntry, fileBytes, handmadeElf, type Handmade } from './elf-samples.js';
import { build, describeInput, input, pick, seeds as makeSeeds } from './fixtures/robust-fuzz-inputs.js';
import { assertNoWX } from './helpers/wx.js';

const RUNS = Number(process.env.ELF_FUZZ_RUNS ?? 100_000);
/**
 * Inputs slower than this are reported (never asserted: a test does not time things, and this
 * 2-core machine runs other test files alongside). A hang fails by the runner's file timeout.
 */
const REPORT_MS = 50;
const seeds = makeSeeds();
const U64 = 2n ** 64n - 1n;

test.after.each(() => assertNoWX('after the test'));

const VERSIONED_PROBES = [
  ['memcpy', 'GLIBC_2.2.5'],
  ['f', 'V1'],
  ['f', 'V2'],
  ['g', 'V2'],
  ['add', 'V1'],
] as const;
const PROBES = ['printf', 'memcpy', 'add', 'counter', 'generated_7', 'no_such_name', ''];

/** Parses and uses the result as a caller would; returns whether it parsed. */
const reasons = new Map<string, number>();
function exercise(bytes: Uint8Array, options: ReadOptions, count = true): boolean {
  try {
    const elf = readElf(bytes, options);
    for (const name of PROBES) elf.lookup(name);
    for (const s of elf.dynamicSymbols.slice(0, 8)) elf.lookup(s.name);
    // The versioned lookups walk the version slots; versionedName, every symbol's versions.
    for (const [name, version] of VERSIONED_PROBES) elf.lookup(name, version);
    for (let i = 0; i < Math.min(elf.dynamicSymbols.length, 64); i++) elf.versionedName(i);
    elf.section('.dynsym');
    // The unwind tables are decoded on first use; the system libraries' thousands of FDEs would blow the time budget.
    if (bytes.length < 1 << 18) elf.unwind?.ehFrame?.fdes.length;
    return true;
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    if (!count) return false;
    const reason = e.what.replace(/\d+|0x[0-9a-f]+|\.[\w.]+/g, '#');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    return false;
  }
}

test(`${RUNS} mutated, truncated and spliced images: parse or ElfFormatError, never anything else`, () => {
  const stats = new Map(seeds.map((s) => [s.name, { runs: 0, parsed: 0, slowest: 0 }]));
  let slowest = { ms: 0, what: '' };
  let overReport = 0;
  const started = performance.now();
  fc.assert(
    fc.property(input, (c) => {
      const s = pick(seeds, c.seed);
      const [bytes, undo] = build(seeds, s, c);
      try {
        const t = performance.now();
        const parsed = exercise(bytes, s.options);
        const ms = performance.now() - t;
        const st = stats.get(s.name)!;
        st.runs++;
        if (parsed) st.parsed++;
        if (ms > st.slowest) st.slowest = ms;
        if (ms > slowest.ms) slowest = { ms, what: describeInput(s, c) };
        if (ms > REPORT_MS) overReport++;
      } finally {
        undo();
      }
    }),
    { numRuns: RUNS },
  );
  for (const [name, st] of stats) console.log(`  ${name}: ${st.runs} runs, ${st.parsed} parsed, slowest ${st.slowest.toFixed(1)} ms`);
  console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s; slowest first try ${slowest.ms.toFixed(1)} ms: ${slowest.what.slice(0, 300)}`);
  console.log(`  ${overReport} inputs over ${REPORT_MS} ms (reported, not asserted)`);
  const common = [...reasons].sort((a, b) => b[1] - a[1]);
  console.log(
    `  ${common.length} distinct errors; most common: ${common
      .slice(0, 6)
      .map(([r, n]) => `${n}× ${r}`)
      .join('; ')}`,
  );
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
    assert.equal(
      elf.dynamicSymbols.map((s) => s.name),
      ['', ...names],
    );
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
  expectFormatError(
    edit((v) => v.setBigUint64(shoff + 64 * dynsym + 32, 2n ** 62n * 3n, true)),
    /section \d+ \.dynsym .* lies outside the input/,
  );
  expectFormatError(
    edit((v) => v.setBigUint64(shoff + 64 * dynsym + 32, BigInt(SYM64_SIZE * 3 + 1), true)),
    /not a multiple of 24/,
  );
  expectFormatError(
    edit((v) => v.setBigUint64(shoff + 64 * dynsym + 56, 16n, true)),
    /sh_entsize is not 24/,
  );
  expectFormatError(
    edit((v) => v.setUint32(shoff + 64 * dynsym + 40, 9999, true)),
    /sh_link is not a section/,
  );
  expectFormatError(
    edit((v) => v.setUint16(62, file.header.e_shnum, true)),
    /e_shstrndx is past/,
  );
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
  // The reader refuses before decoding the suffixes: the error itself shows the bound.
  expectFormatError(bytes, /overlap too much/);
});

test.run();
