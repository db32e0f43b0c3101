// ld.so's cached bucket count of a loaded live library, found so that its
// GNU table can grow.
//
// _dl_setup_hash (elf/dl-setup_hash.c) reads a GNU table's header once, at
// load, into the library's struct link_map: l_nbuckets, l_gnu_bitmask_idxbits,
// l_gnu_shift, then the pointers l_gnu_bitmask, l_gnu_buckets and
// l_gnu_chain_zero. do_lookup_x and dladdr read l_nbuckets at every call and
// everything else from those pointers. The struct is private to glibc, but
// these six fields have kept that order, next to each other, since GNU hash
// came in (2006), packed (the three 32-bit words are not padded before the
// pointers): found by their values (three addresses only this library has,
// after the three words), the one word that matters can be raised while
// the pointers stay put. A table whose buckets may later be read up to any
// count between the old and the new one is right for both (symtab.ts), so a
// single 32-bit store is all a concurrent reader can see change.
//
// Not found (another C library's layout, or DLBIND_FIXED_BUCKETS=1), the
// table keeps the bucket count its header gave ld.so, as before.
import { getLibc } from './libc.js';

/** Where l_nbuckets sat in the last link_map it was found in (the same for every library of a process). */
let knownOffset = -1;
/** Bytes of a link_map searched for the fields: l_nbuckets sits 780 bytes in on glibc 2.36, x86_64. */
const SEARCH_BYTES = 1024;

/** What _dl_setup_hash stored for a library: the values that identify its fields. */
export interface CachedShape {
  /** The library's link_map (its dlopen handle). */
  linkMap: bigint;
  nbuckets: number;
  /** bloom words - 1 */
  bloomIdxBits: number;
  bloomShift: number;
  /** Run-time addresses: the bloom words, the buckets, and the chain's origin (buckets + 4·(nbuckets - symoffset)). */
  bitmask: bigint;
  buckets: bigint;
  chainZero: bigint;
}

/**
 * The values _dl_setup_hash caches for a loaded library whose GNU table
 * starts at `gnuAddr` (relative to `loadBase`) with the header words given:
 * the bloom words follow the 16-byte header, the buckets the bloom words,
 * and ld.so's chain origin is buckets + nbuckets - symoffset (in words).
 */
export function cachedShapeOf(
  linkMap: bigint,
  loadBase: bigint,
  gnuAddr: number,
  header: { nbuckets: number; symoffset: number; bloomWords: number; bloomShift: number },
): CachedShape {
  const buckets = loadBase + BigInt(gnuAddr + 16 + header.bloomWords * 8);
  return {
    linkMap,
    nbuckets: header.nbuckets,
    bloomIdxBits: header.bloomWords - 1,
    bloomShift: header.bloomShift,
    bitmask: loadBase + BigInt(gnuAddr + 16),
    buckets,
    chainZero: buckets + BigInt(4 * (header.nbuckets - header.symoffset)),
  };
}

// Three 32-bit words, then three pointers, unpadded (the pointers 8-aligned: l_nbuckets is not).
const FIELDS_BYTES = 36;

function matches(words: DataView, at: number, s: CachedShape): boolean {
  return (
    words.getBigUint64(at + 12, true) === s.bitmask &&
    words.getBigUint64(at + 20, true) === s.buckets &&
    words.getBigUint64(at + 28, true) === s.chainZero &&
    words.getUint32(at, true) === s.nbuckets &&
    words.getUint32(at + 4, true) === s.bloomIdxBits &&
    words.getUint32(at + 8, true) === s.bloomShift
  );
}

/**
 * A one-word view of the link_map's l_nbuckets, or undefined when the cached
 * fields are not where, or not what, `shape` says.
 */
export function findCachedBucketCount(shape: CachedShape): Uint32Array | undefined {
  const linkMap = shape.linkMap;
  if (process.env.DLBIND_FIXED_BUCKETS === '1') return undefined;
  const c = getLibc();
  let at = knownOffset;
  if (at >= 0) {
    const fields = c.view(linkMap + BigInt(at), FIELDS_BYTES);
    if (matches(new DataView(fields), 0, shape)) return new Uint32Array(fields, 0, 1);
  }
  {
    const words = new DataView(c.view(linkMap, SEARCH_BYTES));
    at = -1;
    for (let o = 4; o + FIELDS_BYTES <= SEARCH_BYTES; o += 8) {
      if (!matches(words, o, shape)) continue;
      // Two matches would leave the field in doubt: use neither.
      if (at >= 0) return undefined;
      at = o;
    }
    if (at < 0) return undefined;
    knownOffset = at;
  }
  return new Uint32Array(c.view(linkMap + BigInt(at), 4));
}
