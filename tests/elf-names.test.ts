// arch: aarch64
// The writer's name tables (src/elf/names.ts): the duplicate check and the name lookup probe an
// open-addressing table on each name's GNU hash. Short names that share a prefix have runs of
// near hashes, and a table indexed by the hash's low bits turned those runs into probe
// sequences thousands long (a million `fn_` + base-36 names took 104 s). Both the cure
// (firstSlot) and the disease are measured here as probe lengths, not as times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gnuHash } from '../src/elf/hash.js';
import { setKernelsEnabled } from '../src/elf/kernels.js';
import { NameLookup, encodeNames, findDuplicateName, firstSlot } from '../src/elf/names.js';

const utf8 = new TextEncoder();
const shortNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `fn_${i.toString(36)}`);

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
