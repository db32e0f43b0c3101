// Byte ranges of the reader's input, checked before anything is read or allocated from them.
import type { ByteReader } from './bytes.js';
import { ElfFormatError } from './errors.js';

/** A byte range already checked to lie inside the input. */
export interface Region {
  readonly offset: number;
  readonly end: number;
}

/** Checks that [offset, offset+size) lies inside the input; `at` is where the offending field was read. */
export function regionOf(r: ByteReader, offset: bigint, size: bigint, what: string, at: number): Region {
  if (offset < 0n || size < 0n || offset + size > BigInt(r.length)) {
    throw new ElfFormatError(`${what} [0x${offset.toString(16)}, +0x${size.toString(16)}) lies outside the input (${r.length} bytes)`, at);
  }
  return { offset: Number(offset), end: Number(offset + size) };
}

/** `count` records of `size` bytes at `offset`, capped by the input before anything is allocated. */
export function tableRegion(offset: number, count: number, size: number, limit: number, what: string): Region {
  if (count > Math.floor((limit - offset) / size)) {
    throw new ElfFormatError(`${what}: ${count} entries of ${size} bytes do not fit in the ${Math.max(0, limit - offset)} bytes left`, offset, count);
  }
  return { offset, end: offset + count * size };
}
