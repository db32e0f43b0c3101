// Symbol names as one column: every name's UTF-8 bytes back to back, each
// ended by a NUL (the form .dynstr stores them in), with start offsets and the
// GNU and SysV hashes computed from the bytes in one pass. A million names are
// then a few typed arrays, not a million strings to walk byte by byte again
// for each table.
import { grownTo } from './bytes.js';
import { ElfBuildError } from './errors.js';
import { elfHash, gnuHash } from './hash.js';
import { kernelFirstDuplicate, kernelNames, kernelScanNames } from './kernels.js';

/** Names as one NUL-separated byte buffer: name i is `bytes[start[i], start[i + 1] - 1)`. */
export interface NameColumn {
  /** How many names. */
  readonly count: number;
  /** The names' UTF-8 bytes, each followed by a NUL. */
  readonly bytes: Uint8Array;
  /** count + 1 entries; the last is the buffer's used length. */
  readonly start: Uint32Array;
  /** gnuHash of each name. */
  readonly gnu: Uint32Array;
  /** elfHash (SysV) of each name. */
  readonly sysv: Uint32Array;
}

const encoder = new TextEncoder();
/** push's one length, for pushJoined. */
const one = new Uint32Array(1);
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Collects names into one column as they come, hashing each while its bytes
 * are written: no string or array per name is kept.
 */
export class NameColumnBuilder {
  private bytes: Uint8Array;
  private used = 0;
  private count = 0;
  private start: Uint32Array;
  private gnu: Uint32Array;
  private sysv: Uint32Array;

  /** Room for `expected` names of `bytes` bytes in all, their NULs included (16 a name unless told). */
  constructor(expected: number, bytes = expected * 16) {
    this.bytes = new Uint8Array(Math.max(64, bytes));
    this.start = new Uint32Array(expected + 1);
    this.gnu = new Uint32Array(expected);
    this.sysv = new Uint32Array(expected);
  }

  private room(bytes: number, names: number): void {
    if (this.used + bytes > this.bytes.length) {
      this.bytes = grownTo(this.bytes, Math.max(this.bytes.length * 2, this.used + bytes));
    }
    if (this.count + names > this.gnu.length) {
      const cap = Math.max(this.gnu.length * 2, this.count + names);
      this.start = grownTo(this.start, cap + 1);
      this.gnu = grownTo(this.gnu, cap);
      this.sysv = grownTo(this.sysv, cap);
    }
  }

  /** Appends a name; false (and nothing appended) when it contains NUL. */
  push(s: string): boolean {
    one[0] = s.length;
    return this.pushJoined(s, one, 1) < 0;
  }

  /** Appends a name that is not all ASCII: its UTF-8 bytes, then the hashes over them; false when it contains NUL. */
  private pushEncoded(s: string): boolean {
    this.room(s.length * 3 + 1, 1);
    const bytes = this.bytes;
    const first = this.used;
    const end = first + encoder.encodeInto(s, bytes.subarray(first, first + s.length * 3)).written;
    for (let k = first; k < end; k++) if (bytes[k] === 0) return false;
    const name = bytes.subarray(first, end);
    return this.close(first, end, gnuHash(name), elfHash(name));
  }

  /**
   * Appends `count` names written back to back in `joined` (name k is `lengths[k]` UTF-16 units
   * long); returns the index of the first one holding a NUL (that one and those after it are not
   * appended), or -1. One string for many names: reading a name's characters makes V8 flatten
   * it first when it was made by concatenation (a `${prefix}${i}` of 13 characters or more),
   * an allocation and a runtime call per name, where `Array.prototype.join` copies such names
   * into one flat string natively.
   */
  pushJoined(joined: string, lengths: Uint32Array, count: number): number {
    // Room for ASCII names (nearly every name); a name that is not gets its own room in push.
    this.room(joined.length + count, count);
    // A name pushed alone (push, encodeNames) skips the kernel's setup: it never reaches the kernel's fewest items.
    if (count > 1) {
      const bad = kernelNames(joined, lengths, count, this.bytes, this.used, this.start, this.gnu, this.sysv, this.count);
      if (bad !== -2) {
        const done = bad < 0 ? count : bad;
        // ASCII: each name's bytes are its length, then its NUL.
        if (done > 0) this.used = this.start[this.count + done - 1]! + lengths[done - 1]! + 1;
        this.count += done;
        return bad;
      }
    }
    let bytes = this.bytes;
    let at = 0;
    for (let k = 0; k < count; k++) {
      const len = lengths[k]!;
      const first = this.used;
      let p = first;
      let h = 5381;
      let e = 0;
      let i = 0;
      // int32 arithmetic throughout (| 0): small integers stay unboxed even before the loop is optimized.
      for (; i < len; i++) {
        const c = joined.charCodeAt(at + i);
        if (c === 0) return k;
        if (c >= 0x80) break;
        bytes[p++] = c;
        h = (Math.imul(h, 33) + c) | 0;
        e = ((e << 4) + c) | 0;
        const g = e & 0xf0000000;
        if (g !== 0) e ^= g >>> 24;
        e &= ~g;
      }
      if (i < len) {
        if (!this.pushEncoded(joined.slice(at, at + len))) return k;
        // pushEncoded took room for this name's UTF-8 only: the rest's room again.
        this.room(joined.length - at - len + count - k - 1, count - k - 1);
        bytes = this.bytes;
      } else this.close(first, p, h, e);
      at += len;
    }
    return -1;
  }

  private close(first: number, end: number, gnu: number, sysv: number): boolean {
    this.bytes[end] = 0;
    this.gnu[this.count] = gnu;
    this.sysv[this.count] = sysv;
    this.start[this.count] = first;
    this.count++;
    this.used = end + 1;
    return true;
  }

  /** Appends every name of a column. */
  append(c: NameColumn): void {
    const size = c.start[c.count]!;
    this.room(size, c.count);
    this.bytes.set(c.bytes.subarray(0, size), this.used);
    for (let i = 0; i < c.count; i++) this.start[this.count + i] = c.start[i]! + this.used;
    this.gnu.set(c.gnu, this.count);
    this.sysv.set(c.sysv, this.count);
    this.count += c.count;
    this.used += size;
  }

  finish(): NameColumn {
    this.start[this.count] = this.used;
    const n = this.count;
    return { count: n, bytes: this.bytes, start: this.start.subarray(0, n + 1), gnu: this.gnu.subarray(0, n), sysv: this.sysv.subarray(0, n) };
  }
}

/**
 * Encodes names given as strings into a column. Every name must be a
 * non-empty string without NUL; `field(i)` names the bad one in the error.
 */
export function encodeNames(names: readonly unknown[], field: (i: number) => string, allowEmpty = false): NameColumn {
  const n = names.length;
  const b = new NameColumnBuilder(n);
  // Batches joined into one string each, as placeListed joins its names (see pushJoined).
  const lengths = new Uint32Array(Math.min(n, NAME_JOIN_BATCH));
  for (let first = 0; first < n; first += NAME_JOIN_BATCH) {
    const end = Math.min(n, first + NAME_JOIN_BATCH);
    for (let i = first; i < end; i++) {
      const s = names[i];
      if (typeof s !== 'string' || (s.length === 0 && !allowEmpty)) {
        // A NUL before it is the first error, as when the names went in one by one.
        const bad = b.pushJoined(names.slice(first, i).join(''), lengths, i - first);
        if (bad >= 0) throw new ElfBuildError('must not contain NUL', field(first + bad));
        throw new ElfBuildError(typeof s === 'string' ? 'must not be empty' : `must be a string, got ${typeof s}`, field(i));
      }
      lengths[i - first] = s.length;
    }
    const bad = b.pushJoined(names.slice(first, end).join(''), lengths, end - first);
    if (bad >= 0) throw new ElfBuildError('must not contain NUL', field(first + bad));
  }
  return b.finish();
}

/**
 * How many names encodeNames and the planner join into one string before they
 * are encoded: few enough that the joined string and its lengths stay small,
 * many enough that one native join replaces thousands of JavaScript pushes.
 */
export const NAME_JOIN_BATCH = 2048;

/**
 * A column over names given as one buffer of NUL-terminated UTF-8 names.
 * The buffer is used as it is (not copied). Throws naming `field` when it is
 * not NUL-terminated or holds an empty name.
 */
export function nameColumnOfBuffer(buffer: Uint8Array, field: string): NameColumn {
  if (buffer.length > 0 && buffer[buffer.length - 1] !== 0) throw new ElfBuildError('must end with a NUL byte (each name is NUL-terminated)', field);
  const scanned = kernelScanNames(buffer);
  // The same shape as scanNames' column (one hidden class for every NameColumn).
  if (scanned) return { count: scanned.count, bytes: buffer, start: scanned.start, gnu: scanned.gnu, sysv: scanned.sysv };
  let count = 0;
  for (let p = 0; p < buffer.length; p++) {
    if (buffer[p] !== 0) continue;
    if (p === 0 || buffer[p - 1] === 0) throw new ElfBuildError(`holds an empty name at byte ${p} (name ${count})`, field);
    count++;
  }
  const c = scanNames(buffer, buffer.length, count);
  if (c === undefined) throw new ElfBuildError('internal error: names did not scan', field);
  return c;
}

/** Starts and hashes of `count` NUL-terminated names filling `bytes[0, used)`; undefined when the NULs do not match `count`. */
function scanNames(bytes: Uint8Array, used: number, count: number): NameColumn | undefined {
  const start = new Uint32Array(count + 1);
  const gnu = new Uint32Array(count);
  const sysv = new Uint32Array(count);
  let k = 0;
  let h = 5381;
  let e = 0;
  for (let p = 0; p < used; p++) {
    const c = bytes[p]!;
    if (c === 0) {
      if (k >= count) return undefined;
      gnu[k] = h;
      sysv[k] = e;
      k++;
      start[k] = p + 1;
      h = 5381;
      e = 0;
      continue;
    }
    h = (Math.imul(h, 33) + c) | 0;
    e = ((e << 4) + c) | 0;
    const g = e & 0xf0000000;
    if (g !== 0) e ^= g >>> 24;
    e &= ~g;
  }
  if (k !== count) return undefined;
  return { count, bytes, start, gnu, sysv };
}

/** Name i as a string (for messages and the few places that need one). */
export function nameAt(c: NameColumn, i: number): string {
  const a = c.start[i]!;
  const b = c.start[i + 1]! - 1;
  if (b - a < 64) {
    let s = '';
    let ascii = true;
    for (let p = a; p < b; p++) {
      const ch = c.bytes[p]!;
      if (ch >= 0x80) {
        ascii = false;
        break;
      }
      s += String.fromCharCode(ch);
    }
    if (ascii) return s;
  }
  return decoder.decode(c.bytes.subarray(a, b));
}

/** Whether names i and j of a column have the same bytes. */
function sameName(c: NameColumn, i: number, j: number): boolean {
  const a = c.start[i]!;
  const b = c.start[j]!;
  const len = c.start[i + 1]! - a;
  if (c.start[j + 1]! - b !== len) return false;
  const bytes = c.bytes;
  for (let k = 0; k < len; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

/**
 * The most slots the name tables' probes walk before they give up their GNU-hash keys. Names
 * that spread walk under 20 at these tables' load (half full). Names made to share a GNU hash
 * walk as many slots as there are names before them: djb2 hashes `az`, `bY` and `c8` alike (33 *
 * 97 + 122 = 33 * 98 + 89 = 33 * 99 + 56), so any names built of such pairs collide, 3^k of them.
 */
export const PROBE_LIMIT = 256;

/**
 * Finds the first name that appears twice: returns [i, twin] with twin < i,
 * or undefined. Open addressing on the GNU hashes in one Int32Array; when a
 * probe passes PROBE_LIMIT, again on a hash keyed by a random seed.
 */
export function findDuplicateName(c: NameColumn): [number, number] | undefined {
  const n = c.count;
  let size = 16;
  while (size < n * 2) size *= 2;
  let found: [number, number] | null | 'crowded' | undefined = kernelFirstDuplicate(c.bytes, c.start, c.gnu, n, size, PROBE_LIMIT);
  // Signed views of the hashes: the same bits, read as small integers (no boxing before the loop is optimized).
  if (found === undefined) found = duplicateByKeys(c, new Int32Array(c.gnu.buffer, c.gnu.byteOffset, n), size, PROBE_LIMIT);
  if (found === 'crowded') found = duplicateByKeys(c, seededKeys(c, randomSeed()), size, 0x7fffffff);
  return found === null || found === 'crowded' ? undefined : found;
}

/** findDuplicateName's probes on `keys` (one a name); 'crowded' when one passes `limit` slots. */
function duplicateByKeys(c: NameColumn, keys: Int32Array, size: number, limit: number): [number, number] | 'crowded' | null {
  const table = new Int32Array(size).fill(-1);
  const mask = size - 1;
  const shift = Math.clz32(mask);
  for (let i = 0; i < c.count; i++) {
    const h = keys[i]!;
    let at = firstSlot(h, shift);
    for (let walked = 0; ; walked++) {
      if (walked > limit) return 'crowded';
      const j = table[at]!;
      if (j < 0) {
        table[at] = i;
        break;
      }
      if (keys[j] === h && sameName(c, i, j)) return [i, j];
      at = (at + 1) & mask;
    }
  }
  return null;
}

/** A 32-bit seed for seededHash, fresh each time, so that names cannot be chosen to collide under it. */
function randomSeed(): number {
  return (Math.random() * 0x100000000) | 0;
}

/**
 * A hash of `bytes[from, to)` under `seed`, for the name tables once GNU-hash keys crowd: FNV-1a's
 * step with a xorshift after each multiply, so that it is not linear in the bytes as djb2 is,
 * and murmur3's finalizer.
 */
export function seededHash(bytes: Uint8Array, from: number, to: number, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  for (let k = from; k < to; k++) {
    h = Math.imul(h ^ bytes[k]!, 0x01000193);
    h ^= h >>> 15;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** seededHash of each name of `c` (its NUL left out). */
function seededKeys(c: NameColumn, seed: number): Int32Array {
  const keys = new Int32Array(c.count);
  for (let i = 0; i < c.count; i++) keys[i] = seededHash(c.bytes, c.start[i]!, c.start[i + 1]! - 1, seed);
  return keys;
}

/**
 * Where a name with GNU hash `hash` starts probing in an open-addressing table of
 * 2 ** (32 - shift) slots (`shift` is Math.clz32 of the mask): the hash's top bits after a
 * multiply by 2 ** 32 / φ (Fibonacci hashing). The GNU hashes of short names that share a
 * prefix (f_0, f_1, ...) fall in runs of near values, and linear probing from `hash & mask`
 * walks along those runs: a million names `fn_` + base 36 took 104 s to check for duplicates
 * that way, against a few milliseconds. kernels.wat's firstDuplicate starts where this does.
 */
export function firstSlot(hash: number, shift: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> shift;
}

/**
 * A lookup from name to index over a column (built on first use: only pointers and references
 * need it). Keyed by the GNU hashes, or by seededHash when they crowd (see PROBE_LIMIT).
 */
export class NameLookup {
  private table: Int32Array | undefined;
  private keys: Int32Array | undefined;
  private seed = 0;
  private mask = 0;

  constructor(private readonly c: NameColumn) {}

  /** Index of the name, or -1. */
  find(name: string): number {
    const c = this.c;
    if (this.table === undefined) this.build();
    const bytes = encoder.encode(name);
    const keys = this.keys!;
    const h = this.seed === 0 ? gnuHash(bytes) | 0 : seededHash(bytes, 0, bytes.length, this.seed);
    let at = firstSlot(h, Math.clz32(this.mask));
    for (;;) {
      const j = this.table![at]!;
      if (j < 0) return -1;
      if (keys[j] === h && c.start[j + 1]! - c.start[j]! - 1 === bytes.length) {
        const a = c.start[j]!;
        let k = 0;
        while (k < bytes.length && c.bytes[a + k] === bytes[k]) k++;
        if (k === bytes.length) return j;
      }
      at = (at + 1) & this.mask;
    }
  }

  private build(): void {
    const c = this.c;
    let size = 16;
    while (size < c.count * 2) size *= 2;
    this.mask = size - 1;
    const shift = Math.clz32(this.mask);
    let keys = new Int32Array(c.gnu.buffer, c.gnu.byteOffset, c.count);
    for (;;) {
      const table = new Int32Array(size).fill(-1);
      let crowded = false;
      for (let i = 0; i < c.count && !crowded; i++) {
        let at = firstSlot(keys[i]!, shift);
        for (let walked = 0; table[at]! >= 0; walked++) {
          // A seeded table is kept whatever its probes: names cannot be chosen against its seed.
          if (walked > PROBE_LIMIT && this.seed === 0) crowded = true;
          at = (at + 1) & this.mask;
        }
        table[at] = i;
      }
      if (!crowded) {
        this.table = table;
        this.keys = keys;
        return;
      }
      this.seed = randomSeed() | 1;
      keys = seededKeys(c, this.seed);
    }
  }
}
