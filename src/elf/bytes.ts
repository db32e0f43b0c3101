import { ElfBuildError, ElfFormatError } from './errors.js';

/** Converts a 64-bit field to a number, refusing values that a number cannot hold exactly. */
export function toNumber(value: bigint, what: string, offset = 0): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfFormatError(`${what} is out of range`, offset, value);
  return Number(value);
}

/** Whether this host stores words little-endian (typed arrays use the host's order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export function alignUp(value: number, align: number): number {
  if (align <= 1) return value;
  return Math.ceil(value / align) * align;
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0 && value <= 2 ** 30;
}

/** A typed array of the same kind, `length` long (at least `a`'s), starting with a copy of `a`. */
export function grownTo<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}

/** A DataView and a Uint8Array over one buffer, always little-endian, with a write cursor. */
export class ByteWriter {
  readonly view: DataView;
  pos = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** Moves the cursor; `expect` checks that the layout reserved exactly this place (reserve-then-write). */
  seek(pos: number): this {
    this.pos = pos;
    return this;
  }
  expectAt(pos: number, what: string): this {
    if (this.pos !== pos) throw new ElfBuildError(`internal layout error: ${what} written at ${this.pos}, reserved at ${pos}`);
    return this;
  }
  u8(v: number): this {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  u64(v: bigint | number): this {
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
    return this;
  }
  i64(v: bigint | number): this {
    this.view.setBigInt64(this.pos, BigInt(v), true);
    this.pos += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
}

/** Bounds-checked little-endian reads: every failure is an ElfFormatError naming the offset. */
export class ByteReader {
  readonly view: DataView;
  readonly length: number;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }
  check(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.length) {
      throw new ElfFormatError(`${what} lies outside the file (${this.length} bytes)`, Math.max(0, Math.min(offset, Number.MAX_SAFE_INTEGER)));
    }
  }
  u8(offset: number): number {
    return this.view.getUint8(offset);
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  u64(offset: number): bigint {
    return this.view.getBigUint64(offset, true);
  }
  i64(offset: number): bigint {
    return this.view.getBigInt64(offset, true);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decodes a NUL-terminated string; ASCII (nearly every symbol name) takes a fast path with no decoder call. */
export function readCString(bytes: Uint8Array, start: number, end: number): string | undefined {
  let i = start;
  let ascii = true;
  while (i < end) {
    const c = bytes[i]!;
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
    i++;
  }
  if (i >= end) return undefined;
  if (!ascii || i - start >= 64) return utf8.decode(bytes.subarray(start, i));
  let s = '';
  for (let j = start; j < i; j++) s += String.fromCharCode(bytes[j]!);
  return s;
}

const encoder = new TextEncoder();
export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}
