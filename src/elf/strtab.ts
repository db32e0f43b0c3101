/**
 * Builds an ELF string table. Strings are added first (reserve), offsets are
 * fixed by `finish()`, then read back with `offsetOf`. A string that is a
 * suffix of another one shares its bytes ("bar" inside "foobar"), as GNU ld
 * and lld do; past `suffixSharingLimit` strings only exact duplicates are
 * shared, because the sort it needs would dominate the time to write very
 * large tables.
 */
export class StringTableBuilder {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  private readonly byteLengths: number[] = [];
  private offsets: Uint32Array | undefined;
  private size = 0;

  /** An empty table (just the leading NUL); suffixes are shared up to `suffixSharingLimit` strings. */
  constructor(private readonly suffixSharingLimit = 100_000) {}

  /** Reserves a string and returns its id; the empty string is always offset 0. Call before `finish`. */
  add(s: string): number {
    if (this.offsets !== undefined) throw new Error('StringTableBuilder.add called after finish');
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.ids.set(s, id);
      this.strings.push(s);
      this.byteLengths.push(utf8Length(s));
    }
    return id;
  }

  /**
   * Reserves a string known to be new (symbol names, already checked to be
   * unique), skipping the duplicate check; returns its id. A string equal to
   * one added with `add` would only cost its bytes twice.
   */
  addUnique(s: string): number {
    if (this.offsets !== undefined) throw new Error('StringTableBuilder.add called after finish');
    this.strings.push(s);
    this.byteLengths.push(utf8Length(s));
    return this.strings.length - 1;
  }

  /** How many strings have been added. */
  get count(): number {
    return this.strings.length;
  }

  /** Fixes every offset and returns the table's size in bytes. */
  finish(): number {
    const n = this.strings.length;
    const offsets = new Uint32Array(n);
    const strings = this.strings;
    const lengths = this.byteLengths;
    let size = 1; // offset 0 holds the empty string
    if (n <= this.suffixSharingLimit) {
      const order = Array.from({ length: n }, (_, i) => i);
      // Ordering by reversed characters puts every string right after the longest string it ends.
      order.sort((a, b) => compareReversed(strings[b]!, strings[a]!));
      let prev = -1;
      let prevOffset = 0;
      for (const i of order) {
        const s = strings[i]!;
        if (s.length === 0) continue;
        if (prev >= 0 && strings[prev]!.endsWith(s)) {
          offsets[i] = prevOffset + lengths[prev]! - lengths[i]!;
          continue;
        }
        offsets[i] = size;
        prev = i;
        prevOffset = size;
        size += lengths[i]! + 1;
      }
    } else {
      for (let i = 0; i < n; i++) {
        if (lengths[i] === 0) continue;
        offsets[i] = size;
        size += lengths[i]! + 1;
      }
    }
    this.offsets = offsets;
    this.size = size;
    return size;
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

  /** Writes the table into `out` at `at`; the bytes there must be zero (terminators are not written). */
  write(out: Uint8Array, at: number): void {
    const offsets = this.offsets;
    if (offsets === undefined) throw new Error('StringTableBuilder.write called before finish');
    const strings = this.strings;
    for (let i = 0; i < strings.length; i++) {
      const s = strings[i]!;
      if (s.length > 0) writeString(out, at + offsets[i]!, s);
    }
  }
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

function compareReversed(a: string, b: string): number {
  let i = a.length - 1;
  let j = b.length - 1;
  while (i >= 0 && j >= 0) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d;
    i--;
    j--;
  }
  return i - j;
}
