// The two symbol hash functions of the dynamic loader and the tables built from them.

/** SysV ABI `elf_hash`, over the name's bytes. */
export function elfHash(name: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + name[i]!) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}

/** GNU `dl_new_hash` (djb2 with a 33 multiplier), over the name's bytes. */
export function gnuHash(name: Uint8Array): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + name[i]!) >>> 0;
  return h >>> 0;
}

/** Bucket counts that GNU ld uses for DT_HASH; picking a prime keeps chains short for any name set. */
const SYSV_BUCKET_PRIMES = [1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101, 262147];

/** nbucket for a SysV table expected to hold `count` symbols: about one chain link per bucket. */
export function sysvBucketCount(count: number): number {
  let best = SYSV_BUCKET_PRIMES[0]!;
  for (const p of SYSV_BUCKET_PRIMES) {
    if (p <= count) best = p;
  }
  if (count > 262147) best = nextPrime(count);
  return best;
}

/**
 * nbucket of a SysV table written beside a GNU one: as GNU ld sizes it (its prime table,
 * at most 32,771 buckets). glibc, and every loader since 2006, reads DT_GNU_HASH when both
 * are there; DT_HASH is for older tools, so it is kept small rather than fast: at a million
 * symbols this saves 3.9 MB (a bucket a symbol) against chains about 30 long.
 */
export function sysvBucketCountBesideGnu(count: number): number {
  return Math.min(sysvBucketCount(count), 32771);
}

export function nextPrime(n: number): number {
  let c = n | 1;
  for (;;) {
    let prime = true;
    for (let d = 3; d * d <= c; d += 2) {
      if (c % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) return c;
    c += 2;
  }
}

/** nbuckets for a GNU table: a power of two near count/2 keeps chains about two long, like lld. */
export function gnuBucketCount(count: number): number {
  return Math.max(1, Math.ceil(count / 2));
}

/** Bloom filter words (64-bit) for a GNU table: one word per eight symbols, rounded to a power of two. */
export function gnuBloomWords(count: number): number {
  let words = 1;
  while (words * 8 < count) words *= 2;
  return words;
}

export const GNU_BLOOM_SHIFT = 26;

/**
 * nbuckets of a live GNU table whose bucket count cannot grow (ld.so's cached
 * copy of it was not found, see src/loader/link-map-buckets.ts): glibc fixes it
 * at load, and it prices two calls against each other: dladdr visits every
 * bucket (cost ~ nbuckets even with one symbol bound), and a dlsym hit walks
 * half a chain of hash words (cost ~ symbols / nbuckets). A power of two near
 * 2·sqrt(maxSymbols) balances them: 2,048 buckets for a million symbols. At
 * most 8,192, so that the binder's per-bucket books stay small. A live
 * library's header says this many at load either way.
 */
export function gnuLiveBucketCount(maxSymbols: number): number {
  let b = 1;
  while (b < 8192 && b * b < 4 * maxSymbols) b *= 2;
  return b;
}

/**
 * The buckets a live GNU table starts with when it can grow: dladdr then
 * walks 5 bucket words, not thousands, in a library with a few symbols. The
 * count doubles from there, so it stays 5·2^k: not a power of two, whose
 * remainders keep only a name's low hash bits, which names that differ in
 * their last characters share unevenly (with 100,000 names jit_obj_<n>, a
 * hit walks 3.5 chain entries on average at 65,536 buckets, 2.1 at 81,920,
 * 2.4 in gcc's table of 65,537; close to what random names give).
 */
export const GNU_LIVE_FIRST_BUCKETS = 5;

/** A live table for fewer symbols than this keeps its bucket count (it stays small either way). */
const GNU_LIVE_GROWS_FROM = 256;

/**
 * The bucket count a live GNU table is laid out for: the first count of
 * growth, or, for a table too small to grow, its fixed count.
 */
export function gnuLiveLaidOutBuckets(maxSymbols: number): number {
  return maxSymbols >= GNU_LIVE_GROWS_FROM ? GNU_LIVE_FIRST_BUCKETS : gnuLiveBucketCount(maxSymbols);
}

/**
 * .dynsym slots the bucket array of a live table may grow over: lost to
 * symbols (gnuGrownShape), 0 for a table that cannot grow.
 */
export function gnuLiveGrowthSlots(maxSymbols: number): number {
  return maxSymbols >= GNU_LIVE_GROWS_FROM ? gnuLiveMaxBuckets(maxSymbols) - GNU_LIVE_FIRST_BUCKETS : 0;
}

/**
 * The most buckets a growing live GNU table reaches: the first count doubled
 * while under half of maxSymbols (two symbols a bucket at full capacity, as
 * lld sizes a table), at most 163,840 (each step of growth leaves that many
 * .dynsym slots behind, see gnuGrownShape).
 */
export function gnuLiveMaxBuckets(maxSymbols: number): number {
  let b = GNU_LIVE_FIRST_BUCKETS;
  while (b < 163840 && 2 * b < maxSymbols) b *= 2;
  return b;
}

/**
 * The header words (nbuckets, symoffset) of a live GNU table laid out with
 * `first` buckets and symoffset 1 whose bucket array has grown, in place, to
 * `nbuckets`. The buckets then cover the hash words of .dynsym indexes
 * 1 … nbuckets - first, which stop being hashed: symoffset moves past them by
 * as much as nbuckets grew, so that the chain's origin (buckets + nbuckets -
 * symoffset, what ld.so computes at load) never moves.
 */
export function gnuGrownShape(first: number, nbuckets: number): [nbuckets: number, symoffset: number] {
  return [nbuckets, 1 + nbuckets - first];
}

/**
 * Bloom words (64-bit) of a live GNU table: a power of two, one word per
 * eight symbols of capacity. Two bits per name bound (an unbind clears those
 * no other bound name sets, src/loader/bloom.ts), so at full capacity about
 * 22% of the bits are set, and a name that is
 * absent passes the filter about 5% of the time (then one bucket word and a
 * chain of hash words settle it).
 */
export function gnuLiveBloomWords(maxSymbols: number): number {
  let words = 1;
  while (words * 8 < maxSymbols) words *= 2;
  return words;
}

const hashEncoder = new TextEncoder();

/** `gnuHash` of a name given as a string (its UTF-8 bytes), without allocating for ASCII names. */
export function gnuHashString(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return gnuHash(hashEncoder.encode(name));
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  return h;
}

/**
 * `gnuHash` of a name given as a string and its UTF-8 byte length in one pass
 * for ASCII names: the hash is returned, the length left in `hashedLength`.
 */
export function gnuHashWithLength(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) {
      const bytes = hashEncoder.encode(name);
      hashedLength.bytes = bytes.length;
      return gnuHash(bytes);
    }
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  hashedLength.bytes = name.length;
  return h;
}
/** The byte length that the last gnuHashWithLength measured. */
export const hashedLength = { bytes: 0 };

/** `elfHash` of a name given as a string (its UTF-8 bytes), without allocating for ASCII names. */
export function elfHashString(name: string): number {
  const h = elfHashAscii(name);
  return h >= 0 ? h : elfHash(hashEncoder.encode(name));
}

/** `elfHash` of an ASCII name, or -1 when the name is not ASCII (its UTF-8 bytes differ from its char codes). */
export function elfHashAscii(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return -1;
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}
