// arch: aarch64
// The writer's name tables (src/elf/names.ts): the duplicate check and the name lookup probe an
// open-addressing table on each name's GNU hash. Short names that share a prefix have runs of
// near hashes, and a table indexed by the hash's low bits turned those runs into probe
// sequences thousands long (a million `fn_` + base-36 names took 104 s). Names can also be made
// to share one GNU hash outright; past PROBE_LIMIT the tables key by a seeded hash instead. The
// cures and the diseases are measured here as probe lengths, not as times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfBuildError, buildSharedObject, readElf } from '../src/elf/index.js';
import { gnuHash } from '../src/elf/hash.js';
import { setKernelsEnabled } from '../src/elf/kernels.js';
import { NameLookup, PROBE_LIMIT, encodeNames, findDuplicateName, firstSlot, seededHash } from '../src/elf/names.js';
import { have, mustRun, skipBecause, tempDir } from './helpers/tools.js';

const utf8 = new TextEncoder();
const shortNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `fn_${i.toString(36)}`);
/** 3 ** pairs names of one GNU hash: djb2 gives `az`, `bY` and `c8` one value, so names made of them in the same places share theirs. */
const collidingNames = (pairs: number): string[] =>
  Array.from({ length: 3 ** pairs }, (_, i) => {
    let name = 'g_';
    for (let p = 0, rest = i; p < pairs; p++, rest = Math.floor(rest / 3)) name += ['az', 'bY', 'c8'][rest % 3];
    return name;
  });

/** The longest walk from a name's first slot to its own in a linear-probing table of `size` slots. */
function longestProbe(hashes: readonly number[], size: number, first: (h: number) => number): number {
  const taken = new Uint8Array(size);
  let longest = 0;
  for (const h of hashes) {
    let at = first(h);
    let walk = 0;
    while (taken[at] !== 0) {
      at = (at + 1) & (size - 1);
      walk++;
    }
    taken[at] = 1;
    longest = Math.max(longest, walk);
  }
  return longest;
}

test('firstSlot spreads the near hashes of short names; the low bits alone do not', () => {
  const hashes = shortNames(100_000).map((s) => gnuHash(utf8.encode(s)));
  const size = 1 << 18;
  const shift = Math.clz32(size - 1);
  const spread = longestProbe(hashes, size, (h) => firstSlot(h, shift));
  const lowBits = longestProbe(hashes, size, (h) => h & (size - 1));
  assert.ok(spread < 100, `firstSlot: longest probe ${spread}`);
  // The failing case, so that the bound above is not one any slot function meets.
  assert.ok(lowBits > 2_000, `h & mask: longest probe ${lowBits}`);
  // Every slot is in the table.
  for (const h of hashes.slice(0, 1000)) assert.ok(firstSlot(h, shift) < size);
  assert.is(firstSlot(0xffffffff, Math.clz32(15)) < 16, true);
});

test('names made to share one GNU hash crowd its probes past PROBE_LIMIT; a seeded hash spreads them', () => {
  const names = collidingNames(9).map((s) => utf8.encode(s));
  const gnu = names.map((b) => gnuHash(b));
  // The failing case's premise: every name has the same GNU hash, so each probes past all before it.
  assert.is(new Set(gnu).size, 1);
  const size = 1 << 15;
  const shift = Math.clz32(size - 1);
  const byGnu = longestProbe(gnu, size, (h) => firstSlot(h, shift));
  assert.is(byGnu, names.length - 1);
  assert.ok(byGnu > PROBE_LIMIT);
  for (const seed of [1, 0x9e3779b9, -12345]) {
    const seeded = longestProbe(
      names.map((b) => seededHash(b, 0, b.length, seed)),
      size,
      (k) => firstSlot(k, shift),
    );
    assert.ok(seeded < 100, `seed ${seed}: longest probe ${seeded}`);
  }
  // Names that spread stay far under the limit, so that only crowding rekeys.
  const spread = longestProbe(
    shortNames(16_000).map((s) => gnuHash(utf8.encode(s))),
    size,
    (h) => firstSlot(h, shift),
  );
  assert.ok(spread < PROBE_LIMIT / 4, `short names: longest probe ${spread}`);
});

for (const kernels of [true, false]) {
  test(`a duplicate among 59,049 names of one GNU hash is found, and a lookup finds each (kernels ${kernels ? 'on' : 'off'})`, () => {
    setKernelsEnabled(kernels);
    try {
      const names = collidingNames(10);
      assert.is(findDuplicateName(encodeNames(names, (i) => `names[${i}]`)), undefined);
      const twin = 40_000;
      assert.equal(findDuplicateName(encodeNames([...names, names[twin]!], (i) => `names[${i}]`)), [names.length, twin]);
      // A twin early, found before the probes crowd.
      assert.equal(findDuplicateName(encodeNames([names[0]!, names[0]!, ...names.slice(1)], (i) => `names[${i}]`)), [1, 0]);
      const lookup = new NameLookup(encodeNames(names, (i) => `names[${i}]`));
      for (let i = 0; i < names.length; i += 251) assert.is(lookup.find(names[i]!), i);
      assert.is(lookup.find(names[names.length - 1]!), names.length - 1);
      // The same GNU hash and length, and bound nowhere: djb2 gives 'd\x17' the pairs' value too.
      const absent = `g_${'az'.repeat(9)}d\x17`;
      assert.is(gnuHash(utf8.encode(absent)), gnuHash(utf8.encode(names[0]!)));
      assert.is(lookup.find(absent), -1);
      assert.is(lookup.find('g_'), -1);
    } finally {
      setKernelsEnabled(true);
    }
  });
}

test('buildSharedObject of 19,683 names of one GNU hash: objects and columns give the same bytes, eu-elflint passes them, a repeat is named', () => {
  const names = collidingNames(9);
  const symbols = (list: readonly string[]) => list.map((name) => ({ name, section: 'text' as const, bytes: Uint8Array.of(0xc3) }));
  const columns = (list: readonly string[]) => ({
    names: Buffer.from(list.map((n) => `${n}\0`).join(''), 'latin1'),
    bytes: new Uint8Array(list.length).fill(0xc3),
    sizes: new Uint32Array(list.length).fill(1),
  });
  const fromObjects = buildSharedObject({ symbols: symbols(names) });
  assert.equal(buildSharedObject({ columns: columns(names) }), fromObjects, 'the bulk form');
  const dynamic = new Set(readElf(fromObjects).dynamicSymbols.map((s) => s.name));
  assert.ok(
    names.every((n) => dynamic.has(n)),
    'every name is in .dynsym',
  );
  if (have('eu-elflint')) {
    const file = join(tempDir('dlbind-elf-names-'), 'colliding.so');
    writeFileSync(file, fromObjects);
    mustRun('eu-elflint', ['--gnu-ld', file]);
  } else skipBecause('eu-elflint of the colliding names', 'eu-elflint is not installed');
  const repeated = [...names.slice(0, 15_000), names[7]!, ...names.slice(15_000)];
  assert.throws(
    () => buildSharedObject({ symbols: symbols(repeated) }),
    (e: unknown) => e instanceof ElfBuildError && e.message === `symbols[15000].name: duplicate symbol name '${names[7]}' (also symbols[7])`,
  );
  assert.throws(
    () => buildSharedObject({ columns: columns(repeated) }),
    (e: unknown) => e instanceof ElfBuildError && e.message === `columns.names[15000]: duplicate symbol name '${names[7]}' (also columns.names[7])`,
  );
});

for (const kernels of [true, false]) {
  test(`a duplicate among 200,000 short names is found, and a lookup finds each name (kernels ${kernels ? 'on' : 'off'})`, () => {
    setKernelsEnabled(kernels);
    try {
      const names = shortNames(200_000);
      assert.is(findDuplicateName(encodeNames(names, (i) => `names[${i}]`)), undefined);
      const twin = 123_456;
      const withTwin = [...names, names[twin]!];
      assert.equal(findDuplicateName(encodeNames(withTwin, (i) => `names[${i}]`)), [200_000, twin]);
      const lookup = new NameLookup(encodeNames(names, (i) => `names[${i}]`));
      for (let i = 0; i < names.length; i += 997) assert.is(lookup.find(names[i]!), i);
      assert.is(lookup.find('fn_'), -1);
      assert.is(lookup.find(`fn_${(200_000).toString(36)}`), -1);
    } finally {
      setKernelsEnabled(true);
    }
  });
}

test.run();
