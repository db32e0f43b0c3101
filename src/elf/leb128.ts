// LEB128, the variable-length integers of DWARF (DWARF 5, section 7.6).
// Values are numbers: call-frame operands (offsets, registers, lengths)
// stay far below 2^53, and a decoder refuses anything that would not.
import { ElfBuildError, ElfFormatError } from './errors.js';

/** The bytes of `value` as an unsigned LEB128. */
export function uleb128(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new ElfBuildError(`ULEB128 needs a non-negative integer, got ${value}`);
  const out: number[] = [];
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** The bytes of `value` as a signed LEB128. */
export function sleb128(value: number): number[] {
  if (!Number.isSafeInteger(value)) throw new ElfBuildError(`SLEB128 needs an integer, got ${value}`);
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = ((v % 128) + 128) % 128;
    v = Math.floor(v / 128);
    const signBit = (byte & 0x40) !== 0;
    if ((v === 0 && !signBit) || (v === -1 && signBit)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A decoded LEB128 and the offset just past it. */
export interface Leb128 {
  value: number;
  next: number;
}

/** Reads an unsigned LEB128 at `offset`, not past `end`. */
export function readUleb128(bytes: Uint8Array, offset: number, end: number = bytes.length): Leb128 {
  let value = 0;
  let scale = 1;
  for (let at = offset; ; at++) {
    if (at >= end) throw new ElfFormatError('ULEB128 runs past its record', offset);
    const byte = bytes[at]!;
    value += (byte & 0x7f) * scale;
    if (!Number.isSafeInteger(value)) throw new ElfFormatError('ULEB128 is too large', offset);
    if ((byte & 0x80) === 0) return { value, next: at + 1 };
    scale *= 128;
  }
}

/** Reads a signed LEB128 at `offset`, not past `end`. */
export function readSleb128(bytes: Uint8Array, offset: number, end: number = bytes.length): Leb128 {
  let value = 0;
  let scale = 1;
  for (let at = offset; ; at++) {
    if (at >= end) throw new ElfFormatError('SLEB128 runs past its record', offset);
    const byte = bytes[at]!;
    value += (byte & 0x7f) * scale;
    scale *= 128; // a power of two: exact in a double far past 2^53
    if (!Number.isSafeInteger(value) && scale > 2 ** 60) throw new ElfFormatError('SLEB128 is too large', offset);
    if ((byte & 0x80) === 0) {
      if ((byte & 0x40) !== 0) value -= scale;
      if (!Number.isSafeInteger(value)) throw new ElfFormatError('SLEB128 is too large', offset);
      return { value, next: at + 1 };
    }
  }
}
