// A SymbolSpec's bytes and size as plain values, for tests that check what the writer made of them.
import type { SymbolSpec } from '../../src/index.js';

export function specBytes(s: SymbolSpec): Uint8Array {
  const b = s.bytes;
  if (b === undefined) return new Uint8Array(0);
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : Uint8Array.from(b);
}

export function specSize(s: SymbolSpec): number {
  return s.size === undefined ? specBytes(s).length : Number(s.size);
}
