import { HOST_LITTLE_ENDIAN, grownTo } from './bytes.js';
import { kernelColumnStrings, kernelShareSuffixes, kernelWriteStrings, type StringColumns } from './kernels.js';
import type { NameColumn } from './names.js';

/**
 * Builds an ELF string table. Strings are added first (reserve), offsets are
 * fixed by `finish()`, then read back with `offsetOf`. A string that is a
 * suffix of another one shares its bytes ("bar" inside "foobar"), as GNU ld
 * and lld do; past `suffixSharingLimit` strings only exact duplicates are
 * shared, because the sort it needs would dominate the time to write very
 * large tables.
 *
 * Every string is handled as bytes: the few added one by one are encoded into
 * a small pool, and a column of names (`addColumn`) is used where it lies, so
 * that a million symbol names are never strings again.
 */
export class StringTableBuilder {
  private readonly ids = new Map<string, number>();
  /** The byte sources: 0 is the pool of strings added one by one, then one per column. */
  private readonly sources: Uint8Array[] = [new Uint8Array(64)];
  /** How many bytes of each source hold strings (the pool's is poolUsed). */
  private readonly sourceUsed: number[] = [0];
  private poolUsed = 0;
  private n = 0;
  private src = new Uint16Array(16);
  private begin = new Uint32Array(16);
  private length = new Uint32Array(16);
  private offsets: Uint32Array | undefined;
  private size = 0;

  /** An empty table (just the leading NUL); suffixes are shared up to `suffixSharingLimit` strings. */
  constructor(private readonly suffixSharingLimit = 100_000) {}

  /** Reserves a string and returns its id; the empty string is always offset 0. Call before `finish`. */
  add(s: string): number {
    this.open();
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.addUnique(s);
      this.ids.set(s, id);
    }
    return id;
  }

  /**
   * Reserves a string known to be new (symbol names, already checked to be
   * unique), skipping the duplicate check; returns its id. A string equal to
   * one added with `add` would only cost its bytes twice.
   */
  addUnique(s: string): number {
    this.open();
    let pool = this.sources[0]!;
    if (this.poolUsed + s.length * 3 > pool.length) {
      this.sources[0] = pool = grownTo(pool, Math.max(pool.length * 2, this.poolUsed + s.length * 3));
    }
    const written = writeString(pool, this.poolUsed, s);
    const id = this.reserve(1);
    this.src[id] = 0;
    this.begin[id] = this.poolUsed;
    this.length[id] = written;
    this.poolUsed += written;
    return id;
  }

  /**
   * Reserves names `order[0]`, `order[1]`, ... of a column (known to be
   * unique, like `addUnique`); returns the id of the first, the others follow.
   */
  addColumn(names: NameColumn, order: ArrayLike<number>): number {
    this.open();
    const k = order.length;
    const first = this.reserve(k);
    this.sources.push(names.bytes);
    this.sourceUsed.push(names.start[names.count]!);
    const source = this.sources.length - 1;
    if (source > 0xffff) throw new Error('StringTableBuilder: too many columns');
    const start = names.start;
    if (order instanceof Int32Array && kernelColumnStrings(order, start, names.count, source, first, this.src, this.begin, this.length)) return first;
    const src = this.src;
    const begin = this.begin;
    const length = this.length;
    for (let j = 0; j < k; j++) {
      const i = order[j]!;
      const a = start[i]!;
      src[first + j] = source;
      begin[first + j] = a;
      length[first + j] = start[i + 1]! - a - 1;
    }
    return first;
  }

  private open(): void {
    if (this.offsets !== undefined) throw new Error('StringTableBuilder.add called after finish');
  }

  private reserve(k: number): number {
    const id = this.n;
    const need = id + k;
    if (need > this.begin.length) {
      let cap = this.begin.length * 2;
      while (cap < need) cap *= 2;
      this.src = grownTo(this.src, cap);
      this.begin = grownTo(this.begin, cap);
      this.length = grownTo(this.length, cap);
    }
    this.n = need;
    return id;
  }

  /** How many strings have been added. */
  get count(): number {
    return this.n;
  }

  /** Fixes every offset and returns the table's size in bytes. */
  finish(): number {
    const n = this.n;
    const offsets = new Uint32Array(n);
    const length = this.length;
    let size = 1; // offset 0 holds the empty string
    if (n <= this.suffixSharingLimit) {
      size = kernelShareSuffixes(this.columns(), offsets);
      if (size < 0) size = shareSuffixes(this.reversedOrder(), this.sources, this.src, this.begin, length, offsets);
    } else {
      for (let i = 0; i < n; i++) {
        const len = length[i]!;
        if (len === 0) continue;
        offsets[i] = size;
        size += len + 1;
      }
    }
    this.offsets = offsets;
    this.size = size;
    return size;
  }

  /** The strings as the kernels take them. */
  private columns(): StringColumns {
    this.sourceUsed[0] = this.poolUsed;
    return { n: this.n, sources: this.sources, sourceUsed: this.sourceUsed, src: this.src, begin: this.begin, length: this.length };
  }

  /**
   * The ids in ascending order of their reversed bytes (a string before any
   * that ends with it). Sorted natively on 64-bit keys: five bytes from the
   * end and the id; ties in those five bytes are sorted again on the next five.
   */
  private reversedOrder(): Uint32Array {
    const n = this.n;
    const order = new Uint32Array(n);
    identity(order);
    if (n < 2) return order;
    const keys = new BigUint64Array(n);
    const words = new Uint32Array(keys.buffer);
    const [lo, hi] = HOST_LITTLE_ENDIAN ? [0, 1] : [1, 0];
    // Ranges still to sort, with the depth (bytes from the end) they are sorted on; ids fit in 24 bits of a key.
    if (n >= 1 << 24) throw new Error('StringTableBuilder: too many strings to share suffixes');
    const stack: number[] = [0, n, 0];
    while (stack.length > 0) {
      const depth = stack.pop()!;
      const to = stack.pop()!;
      const from = stack.pop()!;
      const longer = sortKeys(order, from, to, depth, this.sources, this.src, this.begin, this.length, words, lo, hi);
      keys.subarray(from, to).sort();
      sortedIds(order, from, to, words, lo);
      // Runs that agree on these five bytes are ordered by the next five.
      if (longer) pushRuns(stack, from, to, depth, words, lo, hi);
    }
    return order;
  }

  /** The table's size in bytes, after finish. */
  get byteSize(): number {
    return this.size;
  }

  /** The table offset of the string with this id (from add), after finish. */
  offsetOf(id: number): number {
    if (this.offsets === undefined) throw new Error('StringTableBuilder.offsetOf called before finish');
    return this.offsets[id]!;
  }

  /** Every string's table offset, by id (what `offsetOf` reads), after finish. */
  offsetList(): Uint32Array {
    if (this.offsets === undefined) throw new Error('StringTableBuilder.offsetList called before finish');
    return this.offsets;
  }

  /** Writes the table into `out` at `at`; the bytes there must be zero (terminators are not written). */
  write(out: Uint8Array, at: number): void {
    const offsets = this.offsets;
    if (offsets === undefined) throw new Error('StringTableBuilder.write called before finish');
    if (kernelWriteStrings(this.columns(), offsets, this.size, out, at)) return;
    const n = this.n;
    const sources = this.sources;
    const src = this.src;
    const begin = this.begin;
    const length = this.length;
    let bytes = sources[0]!;
    let current = 0;
    for (let i = 0; i < n; i++) {
      const len = length[i]!;
      if (len === 0) continue;
      if (src[i] !== current) {
        current = src[i]!;
        bytes = sources[current]!;
      }
      const a = begin[i]!;
      const o = at + offsets[i]!;
      if (len <= 32) for (let k = 0; k < len; k++) out[o + k] = bytes[a + k]!;
      else out.set(bytes.subarray(a, a + len), o);
    }
  }
}

// reversedOrder's loops, one a function: V8 optimizes each while it runs without deoptimizing
// where the next one starts (no type feedback yet), as one function with four loops did.

function identity(order: Uint32Array): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
}

/**
 * Writes the key of `order[r]` for r in [from, to): five bytes from `depth` bytes before the end,
 * last first (0 past the start: no name holds a NUL), then the id. Returns whether a string is
 * longer than depth + 5.
 */
function sortKeys(
  order: Uint32Array,
  from: number,
  to: number,
  depth: number,
  sources: readonly Uint8Array[],
  src: Uint16Array,
  begin: Uint32Array,
  length: Uint32Array,
  words: Uint32Array,
  lo: number,
  hi: number,
): boolean {
  let longer = false;
  for (let r = from; r < to; r++) {
    const i = order[r]!;
    const bytes = sources[src[i]!]!;
    const len = length[i]!;
    const last = begin[i]! + len - 1 - depth;
    const left = len - depth;
    const b0 = left > 0 ? bytes[last]! : 0;
    const b1 = left > 1 ? bytes[last - 1]! : 0;
    const b2 = left > 2 ? bytes[last - 2]! : 0;
    const b3 = left > 3 ? bytes[last - 3]! : 0;
    const b4 = left > 4 ? bytes[last - 4]! : 0;
    // Stored as int32 bits (no >>> 0): a word past 2^31 would be a heap number before V8 optimizes this.
    words[2 * r + hi] = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    words[2 * r + lo] = (b4 << 24) | i;
    if (left > 5) longer = true;
  }
  return longer;
}

function sortedIds(order: Uint32Array, from: number, to: number, words: Uint32Array, lo: number): void {
  for (let r = from; r < to; r++) order[r] = words[2 * r + lo]! & 0xffffff;
}

/** Pushes each run of keys in [from, to) that agree on their five bytes, to be sorted on the next five. */
function pushRuns(stack: number[], from: number, to: number, depth: number, words: Uint32Array, lo: number, hi: number): void {
  let runStart = from;
  for (let r = from + 1; r <= to; r++) {
    if (r < to && words[2 * r + hi] === words[2 * runStart + hi] && words[2 * r + lo]! >>> 24 === words[2 * runStart + lo]! >>> 24) continue;
    if (r - runStart > 1) stack.push(runStart, r, depth + 5);
    runStart = r;
  }
}

/**
 * Places the strings in descending reversed order (`order` ascending), which puts every string
 * right after the longest string it ends: one that ends the string placed last shares its bytes.
 * Returns the table's size. A function of its own with the byte compare inline (from the last
 * byte: strings next to each other in this order share their ends, names often their starts):
 * this loop runs before V8 has optimized anything, where each call costs many bytecodes.
 */
function shareSuffixes(
  order: Uint32Array,
  sources: readonly Uint8Array[],
  src: Uint16Array,
  begin: Uint32Array,
  length: Uint32Array,
  offsets: Uint32Array,
): number {
  let size = 1; // offset 0 holds the empty string
  let prev = -1;
  let prevOffset = 0;
  let prevLength = 0;
  let prevBytes = sources[0]!;
  let prevEnd = 0;
  for (let r = order.length - 1; r >= 0; r--) {
    const i = order[r]!;
    const len = length[i]!;
    if (len === 0) continue;
    if (prev >= 0 && prevLength >= len) {
      const bytes = sources[src[i]!]!;
      const start = begin[i]!;
      let k = len - 1;
      while (k >= 0 && prevBytes[prevEnd - len + k] === bytes[start + k]) k--;
      if (k < 0) {
        offsets[i] = prevOffset + prevLength - len;
        continue;
      }
    }
    offsets[i] = size;
    prev = i;
    prevOffset = size;
    prevLength = len;
    prevBytes = sources[src[i]!]!;
    prevEnd = begin[i]! + len;
    size += len + 1;
  }
  return size;
}

const encoder = new TextEncoder();

/** UTF-8 byte length of a string; names are nearly always ASCII, which costs one pass. */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return encoder.encode(s).length;
  }
  return s.length;
}

/** Writes a string's UTF-8 bytes (no terminator) and returns how many were written. */
export function writeString(out: Uint8Array, at: number, s: string): number {
  const n = s.length;
  if (n < 48) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[at + i] = c;
    }
    if (i === n) return n;
  }
  return encoder.encodeInto(s, out.subarray(at)).written;
}
