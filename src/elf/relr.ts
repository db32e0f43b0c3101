// DT_RELR: relative relocations packed as addresses and bitmaps (the format
// glibc 2.36, lld and GNU ld 2.38+ share). An even word is an address to
// relocate; an odd word is a bitmap of the 63 words following the last
// address covered, one bit each.
import { ElfBuildError } from './errors.js';

const WORD = 8n;
const BITS = 63n;

/** Encodes relocation addresses (word-aligned, any order, no duplicates) as RELR words. */
export function encodeRelr(addresses: readonly bigint[]): bigint[] {
  const sorted = [...addresses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: bigint[] = [];
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i]!;
    if (first % WORD !== 0n) throw new ElfBuildError(`RELR relocation at 0x${first.toString(16)} is not 8-byte aligned`, 'relr');
    if (i > 0 && first === sorted[i - 1]) throw new ElfBuildError(`two relocations at 0x${first.toString(16)}`, 'relr');
    out.push(first);
    i++;
    let base = first + WORD;
    for (;;) {
      let bitmap = 0n;
      while (i < sorted.length) {
        const d = sorted[i]! - base;
        if (d < 0n || d >= BITS * WORD || d % WORD !== 0n) break;
        bitmap |= 1n << (d / WORD);
        i++;
      }
      if (bitmap === 0n) break;
      out.push((bitmap << 1n) | 1n);
      base += BITS * WORD;
    }
  }
  return out;
}

/** Decodes RELR words back to addresses (what ld.so does with them). */
export function decodeRelr(words: Iterable<bigint>): bigint[] {
  const out: bigint[] = [];
  let base = 0n;
  for (const w of words) {
    if ((w & 1n) === 0n) {
      out.push(w);
      base = w + WORD;
      continue;
    }
    for (let bit = 0n, bits = w >> 1n; bits !== 0n; bit++, bits >>= 1n) if ((bits & 1n) !== 0n) out.push(base + bit * WORD);
    base += BITS * WORD;
  }
  return out;
}
