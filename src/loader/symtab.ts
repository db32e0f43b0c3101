// The in-place symbol table of a live library: .dynsym, .dynstr and the SysV
// .hash, patched through a writable view of the object while ld.so reads
// them. glibc caches only the table's shape at load (nbucket and where the
// buckets and chains are); their contents, the symbols and the strings are
// read live, so publishing a symbol is a few stores in the right order.
import { SYM64_SIZE } from '../elf/constants.js';
import { writeSymWords } from '../elf/encode.js';
import { elfHashAscii, elfHashString } from '../elf/hash.js';
import { utf8Length, writeString } from '../elf/strtab.js';
import type { ObjectLayout } from '../elf/writer.js';
import { DlbindError } from './errors.js';

/**
 * Freed symbol slots and string space wait in a FIFO for at least this many
 * frees and this many milliseconds before reuse, so that a dlsym() on another
 * thread that was standing on a removed entry (it may have been descheduled
 * there for a whole time slice) has long moved on before the entry holds
 * another symbol. Only a table with no fresh room left reuses sooner.
 */
const QUARANTINE = 64;
const QUARANTINE_MS = 50;

export interface BoundSymbol {
  slot: number;
  name: string;
  /** Address relative to the load base (st_value). */
  value: number;
  size: number;
}

/** A FIFO of numbers, each with the time it was pushed. */
class FifoQueue {
  private items: Int32Array;
  private times: Float64Array;
  private head = 0;
  private tail = 0;
  constructor(capacity: number) {
    this.items = new Int32Array(Math.max(4, capacity));
    this.times = new Float64Array(this.items.length);
  }
  get length(): number {
    return this.tail - this.head;
  }
  push(v: number, time: number): void {
    if (this.tail === this.items.length) {
      if (this.head > 0) {
        this.items.copyWithin(0, this.head, this.tail);
        this.times.copyWithin(0, this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      } else {
        const bigger = new Int32Array(this.items.length * 2);
        bigger.set(this.items);
        this.items = bigger;
        const later = new Float64Array(bigger.length);
        later.set(this.times);
        this.times = later;
      }
    }
    this.times[this.tail] = time;
    this.items[this.tail++] = v;
  }
  /** When the oldest item was pushed (the queue must not be empty). */
  oldest(): number {
    return this.times[this.head]!;
  }
  shift(): number {
    return this.items[this.head++]!;
  }
  clear(): void {
    this.head = this.tail = 0;
  }
}

export class LiveSymbolTable {
  /** st_value and st_size as 64-bit words, so that a clear is one store a reader cannot see half of. */
  private readonly symWords: BigUint64Array;
  private readonly symShndx: Uint16Array;
  private readonly symU32: Uint32Array;
  private readonly symBytes: Uint8Array;
  private readonly strings: Uint8Array;
  private readonly buckets: Uint32Array;
  private readonly chains: Uint32Array;
  readonly nbucket: number;
  readonly capacity: number;
  readonly stringCapacity: number;

  /** The name in each slot (undefined when free): lookups walk the hash chain and compare these, as ld.so does. */
  private readonly slotName: (string | undefined)[] = [undefined];
  private bound = 0;
  // DLBIND_FORCE_RELEASE_STORES=1 takes the aarch64 path on x86_64, so that it runs somewhere.
  private readonly weakMemoryOrder = process.arch === 'arm64' || process.env.DLBIND_FORCE_RELEASE_STORES === '1';
  private nextFresh = 1;
  /** performance.now() at the last release. */
  private lastNow = 0;
  private readonly freeSlots: FifoQueue;
  private stringsNext: number;
  /** Freed string ranges by length (terminator included), each a FIFO of offsets. */
  private readonly freeStrings = new Map<number, FifoQueue>();
  private freeStringCount = 0;

  constructor(mem: Uint8Array, layout: ObjectLayout) {
    const buf = mem.buffer;
    const base = mem.byteOffset;
    this.capacity = layout.dynsymCapacity;
    this.stringCapacity = layout.dynstrCapacity;
    this.symWords = new BigUint64Array(buf, base + layout.dynsym.offset, (this.capacity * SYM64_SIZE) / 8);
    this.symShndx = new Uint16Array(buf, base + layout.dynsym.offset, (this.capacity * SYM64_SIZE) / 2);
    this.symU32 = new Uint32Array(buf, base + layout.dynsym.offset, (this.capacity * SYM64_SIZE) / 4);
    this.symBytes = new Uint8Array(buf, base + layout.dynsym.offset, this.capacity * SYM64_SIZE);
    this.strings = new Uint8Array(buf, base + layout.dynstr.offset, layout.dynstrCapacity);
    const hash = layout.sysvHash;
    if (hash === undefined) throw new Error('a live library needs a SysV hash table');
    this.nbucket = layout.sysvBuckets;
    this.buckets = new Uint32Array(buf, base + hash.offset + 8, this.nbucket);
    this.chains = new Uint32Array(buf, base + hash.offset + 8 + this.nbucket * 4, this.capacity);
    this.freeSlots = new FifoQueue(64);
    // The zygote's own strings (its soname) sit at the start of .dynstr.
    this.stringsNext = layout.dynstrUsed;
  }

  get count(): number {
    return this.bound;
  }

  /** Bytes of .dynstr not yet handed out (freed space waiting for reuse not counted). */
  get stringBytesLeft(): number {
    return this.stringCapacity - this.stringsNext;
  }

  /** The slot holding `name`, found through the hash chain, or 0. */
  slotOfName(name: string, hash = elfHashString(name)): number {
    const names = this.slotName;
    const chains = this.chains;
    let at = this.buckets[hash % this.nbucket]!;
    for (let guard = this.capacity; at !== 0 && guard > 0; guard--) {
      if (names[at] === name) return at;
      at = chains[at]!;
    }
    return 0;
  }

  get(name: string): BoundSymbol | undefined {
    const slot = this.slotOfName(name);
    if (slot === 0) return undefined;
    return { slot, name, value: this.valueAt(slot), size: this.sizeAt(slot) };
  }

  private valueAt(slot: number): number {
    return this.symU32[slot * 6 + 2]! + this.symU32[slot * 6 + 3]! * 4294967296;
  }

  private sizeAt(slot: number): number {
    return this.symU32[slot * 6 + 4]! + this.symU32[slot * 6 + 5]! * 4294967296;
  }

  /** The name bound in a slot, or undefined. */
  nameAt(slot: number): string | undefined {
    return this.slotName[slot];
  }

  /** STT_* of the symbol in a slot. */
  typeOf(slot: number): number {
    return this.symBytes[slot * SYM64_SIZE + 4]! & 0xf;
  }

  /** Every bound symbol, in slot order. */
  *entries(): IterableIterator<BoundSymbol> {
    for (let slot = 1; slot < this.nextFresh; slot++) {
      const name = this.slotName[slot];
      if (name !== undefined) yield { slot, name, value: this.valueAt(slot), size: this.sizeAt(slot) };
    }
  }

  /**
   * Publishes a symbol. The order of the stores is what makes a concurrent
   * dlsym() safe: the string, then the entry, then its chain link, and the
   * bucket word last; until that last 4-byte store nothing points at the entry.
   * With `replace`, the new entry goes in front of the old one in the same
   * chain, then the old one is unlinked: every lookup sees one or the other.
   */
  bind(name: string, value: number, size: number, info: number, other: number, shndx: number, replace: boolean): number {
    // One pass for the usual ASCII name gives both the hash and the byte length.
    const asciiHash = elfHashAscii(name);
    const ascii = asciiHash >= 0;
    const hash = ascii ? asciiHash : elfHashString(name);
    const old = this.slotOfName(name, hash);
    if (old !== 0 && !replace) throw new DlbindError('EEXIST', `symbol '${name}' is already bound (pass { replace: true } to repoint it)`);
    const byteLength = ascii ? name.length : utf8Length(name);
    const str = this.takeString(byteLength + 1, name);
    let slot: number;
    try {
      slot = this.takeSlot();
    } catch (err) {
      this.giveBackString(str, byteLength + 1, Number.NEGATIVE_INFINITY);
      throw err;
    }
    const written = writeString(this.strings, str, name);
    this.strings[str + written] = 0;
    // Binding LOCAL until the entry is whole: dladdr scans every entry, linked or not.
    writeSymWords(this.symU32, slot * (SYM64_SIZE / 4), str, 0, other, shndx, value, size);
    const b = hash % this.nbucket;
    this.chains[slot] = this.buckets[b]!;
    if (this.weakMemoryOrder) {
      // On aarch64 a plain store may become visible before the ones above it:
      // Atomics.store is a store-release there (stlr), so a reader that sees the
      // bucket word or the binding also sees the whole entry. x86's stores are
      // seen in program order already.
      Atomics.store(this.symBytes, slot * SYM64_SIZE + 4, info);
      Atomics.store(this.buckets, b, slot);
    } else {
      this.symBytes[slot * SYM64_SIZE + 4] = info;
      this.buckets[b] = slot;
    }
    if (old === 0) this.bound++;
    this.slotName[slot] = name;
    if (old !== 0) this.release(old, b);
    return slot;
  }

  /** Removes a symbol: unlinked first, so that no new lookup reaches it, then its entry is cleared. */
  unbind(name: string): BoundSymbol | undefined {
    const hash = elfHashString(name);
    const slot = this.slotOfName(name, hash);
    if (slot === 0) return undefined;
    const result = { slot, name, value: this.valueAt(slot), size: this.sizeAt(slot) };
    this.bound--;
    this.release(slot, hash % this.nbucket);
    return result;
  }

  /** Unlinks every symbol at once (bucket words first), as dldelete does before dlclose. */
  clear(): void {
    // Only bound names' buckets hold anything; zeroing the whole array would first
    // fault in every page of it that was never written, just before it is unmapped.
    if (this.bound * 16 < this.nbucket) {
      for (let slot = 1; slot < this.nextFresh; slot++) {
        const name = this.slotName[slot];
        if (name !== undefined) this.buckets[elfHashString(name) % this.nbucket] = 0;
      }
    } else this.buckets.fill(0);
    for (let slot = 1; slot < this.nextFresh; slot++) if (this.slotName[slot] !== undefined) this.clearEntry(slot);
    this.slotName.fill(undefined);
    this.bound = 0;
    this.freeSlots.clear();
    this.freeStrings.clear();
    this.freeStringCount = 0;
  }

  private release(slot: number, bucket: number): void {
    if (this.buckets[bucket] === slot) this.buckets[bucket] = this.chains[slot]!;
    else {
      let at = this.buckets[bucket]!;
      let guard = this.capacity;
      while (at !== 0 && this.chains[at] !== slot && guard-- > 0) at = this.chains[at]!;
      if (at !== 0 && this.chains[at] === slot) this.chains[at] = this.chains[slot]!;
    }
    this.retireEntry(slot);
    const name = this.slotName[slot]!;
    this.slotName[slot] = undefined;
    const now = performance.now();
    this.lastNow = now;
    this.freeSlots.push(slot, now);
    this.giveBackString(this.symU32[slot * 6]!, utf8Length(name) + 1, now);
  }

  /** `freedAt` is when a reader could last have reached it (-Infinity: never published). */
  private giveBackString(at: number, bytes: number, freedAt: number): void {
    let q = this.freeStrings.get(bytes);
    if (q === undefined) this.freeStrings.set(bytes, (q = new FifoQueue(16)));
    q.push(at, freedAt);
    this.freeStringCount++;
  }

  /**
   * Hides an unlinked entry without clearing its value. glibc checks an entry
   * and then reads st_value again to make the address, so a dlsym() standing
   * on it while st_value was zeroed would answer l_addr + 0. Binding LOCAL (one
   * byte) makes that dlsym() ignore the entry and dladdr skip it; SHN_UNDEF
   * keeps a debugger reading the file from naming it. The value goes when the
   * slot holds another symbol, after the quarantine.
   */
  private retireEntry(slot: number): void {
    this.symBytes[slot * SYM64_SIZE + 4] = 0;
    this.symShndx[(slot * SYM64_SIZE + 6) / 2] = 0;
  }

  private clearEntry(slot: number): void {
    // Section index first: dladdr skips SHN_UNDEF entries; then the value in one
    // 64-bit store: dlsym skips entries whose value is 0.
    this.symShndx[(slot * SYM64_SIZE + 6) / 2] = 0;
    this.symWords[(slot * SYM64_SIZE + 8) / 8] = 0n;
    this.symWords[(slot * SYM64_SIZE + 16) / 8] = 0n;
    this.symU32[slot * (SYM64_SIZE / 4)] = 0;
    this.symBytes[slot * SYM64_SIZE + 4] = 0;
  }

  /**
   * Whether the oldest item of `q` has waited out the quarantine. The time of
   * the last release stands in for the clock: it is never later than now, so
   * an age measured with it is never too long, and binds read no clock.
   */
  private aged(q: FifoQueue): boolean {
    return this.lastNow - q.oldest() >= QUARANTINE_MS;
  }

  private takeSlot(): number {
    const free = this.freeSlots;
    if (free.length > QUARANTINE && this.aged(free)) return free.shift();
    if (this.nextFresh >= this.capacity && free.length > 0) return free.shift();
    if (this.nextFresh < this.capacity) {
      // Growing by push keeps slotName a packed array (a preallocated one of a million holes would not be).
      this.slotName.push(undefined);
      return this.nextFresh++;
    }
    throw new DlbindError('ESYMFULL', `the symbol table is full (${this.capacity - 1} symbols; raise maxSymbols)`);
  }

  private takeString(bytes: number, name: string): number {
    const q = this.freeStrings.get(bytes);
    const exhausted = this.stringsNext + bytes > this.stringCapacity;
    if (q !== undefined && q.length > 0 && (exhausted || (this.freeStringCount > QUARANTINE && this.aged(q)))) {
      this.freeStringCount--;
      return q.shift();
    }
    if (exhausted) {
      throw new DlbindError(
        'ESTRFULL',
        `the string table is full: '${name.length > 40 ? `${name.slice(0, 40)}…` : name}' needs ${bytes} bytes, ${this.stringCapacity - this.stringsNext} are left (raise stringTableSize)`,
      );
    }
    const at = this.stringsNext;
    this.stringsNext += bytes;
    return at;
  }
}
