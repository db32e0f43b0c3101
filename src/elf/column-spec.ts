// The bulk form of a spec's symbols, for generators that already hold
// columns: names as one array (or one buffer of NUL-terminated names), bytes
// as one buffer with offsets and sizes. Checked here once per column, not
// once per symbol, and turned into the writer's columns without one object
// per symbol.
import { isPowerOfTwo } from './bytes.js';
import { describeValue, toByteArray, unknownKey, unknownKeyMessage } from './checks.js';
import { ElfBuildError } from './errors.js';
import type { SymbolBinding, SymbolKind, SymbolVisibility } from './builder.js';
import type { ContentSectionName } from './layout.js';
import { type NameColumn, encodeNames, nameColumnOfBuffer } from './names.js';

/**
 * Many symbols of one section as columns. Symbol i is named `names[i]` and
 * holds `bytes[offsets[i], offsets[i] + sizes[i])`; it is placed exactly as
 * the SymbolSpec `{ name, section, bytes: <those bytes>, align, kind, binding, visibility }`
 * would be, so the object is byte for byte the same as with `symbols`.
 */
export interface SymbolColumns {
  /** The names: an array of strings, or one buffer of UTF-8 names, each ended by a NUL byte (the .dynstr form). */
  names: readonly string[] | Uint8Array;
  /** Which section holds them all. Default 'text'. */
  section?: ContentSectionName;
  /** Every symbol's bytes, in one buffer (not for 'bss'). Without it the symbols are zero-filled and need `sizes`. */
  bytes?: ArrayBufferView;
  /** Where each symbol's bytes start in `bytes`. Default: back to back, from 0, by `sizes`. */
  offsets?: ArrayLike<number>;
  /** Each symbol's size. Default: up to the next offset (the last one: to the end of `bytes`); offsets must then ascend. */
  sizes?: ArrayLike<number>;
  /** Alignment of each symbol, a power of two. Default: 16 in text, 8 elsewhere. */
  align?: number;
  /** Default: 'func' in text, 'object' elsewhere. */
  kind?: SymbolKind;
  /** Default 'global'. */
  binding?: SymbolBinding;
  /** Default 'default'. Hidden and internal symbols stay out of .dynsym. */
  visibility?: SymbolVisibility;
}

/** @internal */
export const SYMBOL_COLUMNS_KEYS = [
  'names',
  'section',
  'bytes',
  'offsets',
  'sizes',
  'align',
  'kind',
  'binding',
  'visibility',
] as const satisfies readonly (keyof SymbolColumns)[];

/** One checked block of columns. */
export interface ColumnBlock {
  /** 'columns[2]' or 'columns', for messages. */
  field: string;
  names: NameColumn;
  section: ContentSectionName;
  align: number;
  kind: unknown;
  binding: unknown;
  visibility: unknown;
  bytes: Uint8Array | undefined;
  /** Each symbol's first byte in `bytes`; undefined when they lie back to back from 0 (no offsets given). */
  offsets: Float64Array | undefined;
  /** Each symbol's size (an array of the writer's own, not the caller's). */
  sizes: Float64Array;
}

function numberColumn(value: unknown, count: number, field: string): Float64Array {
  const ok =
    Array.isArray(value) ||
    (ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array));
  if (!ok) throw new ElfBuildError(`must be an array or typed array of numbers, got ${describeValue(value)}`, field);
  const list = value as ArrayLike<unknown>;
  if (list.length !== count) throw new ElfBuildError(`has ${list.length} entries for ${count} names`, field);
  const out = new Float64Array(count);
  // Unsigned integer arrays hold nothing to reject: one native copy.
  if (value instanceof Uint8Array || value instanceof Uint16Array || value instanceof Uint32Array || value instanceof Uint8ClampedArray) {
    out.set(value);
    return out;
  }
  for (let i = 0; i < count; i++) {
    const v = list[i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new ElfBuildError(`must be a non-negative integer, got ${describeValue(v)}`, `${field}[${i}]`);
    out[i] = v;
  }
  return out;
}

/**
 * Checks `spec.columns` (one block or an array of them). With `borrowNames`, a names buffer in
 * memory of this thread's own is used as it is, for a plan that is built from at once.
 */
export function checkColumns(value: unknown, borrowNames = false): ColumnBlock[] {
  if (value === undefined) return [];
  const single = !Array.isArray(value);
  const list = (single ? [value] : value) as unknown[];
  return list.map((raw, b) => {
    const field = single ? 'columns' : `columns[${b}]`;
    if (raw === null || typeof raw !== 'object' || ArrayBuffer.isView(raw)) throw new ElfBuildError(`must be an object, got ${describeValue(raw)}`, field);
    const key = unknownKey(raw, SYMBOL_COLUMNS_KEYS);
    if (key !== undefined) throw new ElfBuildError(unknownKeyMessage(key, SYMBOL_COLUMNS_KEYS, 'field'), field);
    const c = raw as SymbolColumns;
    let names: NameColumn;
    // A copy of the caller's buffer: the plan must not change when the caller reuses it (new
    // Uint8Array, not slice: a Buffer's slice is a view), nor while it is built, which a
    // SharedArrayBuffer's other threads could do between the names' checks and their write.
    // A view of a detached buffer has no bytes, and copying one throws a TypeError: it plans as
    // no names, as it does in place.
    if (c.names instanceof Uint8Array) {
      const own = borrowNames && c.names.buffer instanceof ArrayBuffer;
      names = nameColumnOfBuffer(own ? c.names : c.names.length === 0 ? new Uint8Array(0) : new Uint8Array(c.names), `${field}.names`);
    } else if (Array.isArray(c.names)) names = encodeNames(c.names, (i) => `${field}.names[${i}]`);
    else throw new ElfBuildError(`must be an array of strings or a Uint8Array of NUL-terminated names, got ${describeValue(c.names)}`, `${field}.names`);
    const count = names.count;
    const rawSection: unknown = c.section ?? 'text';
    if (rawSection !== 'text' && rawSection !== 'rodata' && rawSection !== 'data' && rawSection !== 'bss')
      throw new ElfBuildError(`must be one of 'text', 'rodata', 'data', 'bss', got ${JSON.stringify(rawSection)}`, `${field}.section`);
    const section = rawSection as ContentSectionName;
    const align = c.align ?? (section === 'text' ? 16 : 8);
    if (!isPowerOfTwo(align)) throw new ElfBuildError(`must be a power of two, got ${String(align)}`, `${field}.align`);
    let bytes: Uint8Array | undefined;
    if (c.bytes !== undefined) {
      if (section === 'bss') throw new ElfBuildError("is not allowed in 'bss' (use 'data')", `${field}.bytes`);
      if (!ArrayBuffer.isView(c.bytes))
        throw new ElfBuildError(`must be a Uint8Array or another ArrayBuffer view, got ${describeValue(c.bytes)}`, `${field}.bytes`);
      bytes = toByteArray(c.bytes) as Uint8Array;
    }
    const length = bytes?.length ?? 0;
    let offsets: Float64Array | undefined;
    let sizes: Float64Array;
    if (c.offsets !== undefined) {
      if (bytes === undefined) throw new ElfBuildError("needs 'bytes' (offsets point into them)", `${field}.offsets`);
      offsets = numberColumn(c.offsets, count, `${field}.offsets`);
      if (c.sizes !== undefined) sizes = numberColumn(c.sizes, count, `${field}.sizes`);
      else {
        sizes = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const end = i + 1 < count ? offsets[i + 1]! : length;
          if (end < offsets[i]!)
            throw new ElfBuildError(`must ascend when 'sizes' is not given: entry ${i} is ${offsets[i]}, the next ${end}`, `${field}.offsets`);
          sizes[i] = end - offsets[i]!;
        }
      }
    } else {
      if (c.sizes === undefined) {
        if (count > 0) throw new ElfBuildError("needs 'sizes' or 'offsets'", field);
        sizes = new Float64Array(0);
      } else sizes = numberColumn(c.sizes, count, `${field}.sizes`);
      let at = 0;
      for (let i = 0; i < count; i++) at += sizes[i]!;
      if (bytes !== undefined && at > length) throw new ElfBuildError(`add up to ${at} bytes, 'bytes' holds ${length}`, `${field}.sizes`);
    }
    // Back to back from 0 (no offsets given), every symbol lies inside once all of them do.
    if (bytes !== undefined && offsets !== undefined) {
      for (let i = 0; i < count; i++) {
        if (offsets[i]! + sizes[i]! > length)
          throw new ElfBuildError(`symbol ${i}'s bytes [${offsets[i]}, +${sizes[i]}) lie outside 'bytes' (${length} bytes)`, `${field}.offsets`);
      }
    }
    return { field, names, section, align, kind: c.kind, binding: c.binding, visibility: c.visibility, bytes, offsets, sizes };
  });
}
