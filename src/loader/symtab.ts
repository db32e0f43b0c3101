// The in-place symbol table of a live library: .dynsym, .dynstr and a GNU
// .gnu.hash, patched through a writable view of the object while ld.so reads
// them.
//
// glibc's _dl_setup_hash caches only the GNU table's shape at load (nbuckets,
// the bloom filter's size and shift, where the bloom words, buckets and chain
// are); do_lookup_x and dladdr read the words themselves, the symbols and the
// strings live, at every call. So the sizes are fixed at dlcreate and the
// contents change under readers. The protocol:
//
// * Each bucket owns a run: contiguous .dynsym slots [start, start + cap), of
//   which the first `used` are its chain, as GNU hash requires (a bucket's
//   symbols are consecutive indexes; the hash word of the last has bit 0 set).
//   The bucket word holds `start`. Fresh runs come from the high-water mark.
// * The bloom filter holds exactly the bits of the reachable names: a bind
//   sets its two (32-bit OR stores) before the symbol is reachable, an unbind
//   clears those no other name uses after it is not (see bloom.ts). Old runs
//   (below) need no bits: a reader on one passed the filter before.
// * Bind appends at `used`: the entry, its hash word with the end bit set,
//   then one 4-byte store clears the end bit of the run's previous last word,
//   which publishes it (for an empty bucket: the bucket word is that store).
// * Unbind, replace, and a bind into a full run copy the run's entries, the
//   removed one left out and the replaced or new one in, to another run with
//   room for half as many again; one store of the bucket word publishes it.
//   A lookup sees the old run or the new one, so the name's previous or
//   current entry, never neither half of two. Nothing is removed from a run
//   in place: glibc reads st_shndx and st_value again after check_match, so a
//   dlsym that passed its checks just before would make a wrong address from
//   an entry changed under it, and dladdr walks every entry a chain reaches.
// * The old run stays intact for QUARANTINE_MS, but for the removed or
//   replaced entry: a reader that loaded the bucket word before that store
//   walks it and finds every other name it held. The removed or replaced
//   entry, and the old copies of that symbol still retiring, become
//   tombstones at once: st_info = GLOBAL|STT_FILE, one byte (check_match
//   refuses STT_FILE; the rest of the entry stays, for a reader past that
//   check). So tools never list an unbound name or a replaced address. nm,
//   readelf and gdb ignore STT_FILE symbols in .dynsym, and a GLOBAL one draws
//   no readelf warning (a LOCAL one past sh_info would). After its
//   quarantine the run retires (all tombstones) at the next run copy or
//   string reuse, on an unref'd timer, or by retire (JitLibrary.flush);
//   until then tools that read .dynsym whole list exact copies of bound
//   symbols twice (same name, value, size). Only a retired run is reused.
//   A table with no fresh slots and no retired run that fits waits for the
//   oldest quarantine to end (under QUARANTINE_MS), and throws ESYMFULL only
//   when even all retired runs merged leave no room. Freed name bytes wait
//   the same way (and QUARANTINE frees) and are reused only after the runs
//   that name them retired.
// * Every slot of a freshly taken run gets the hash word 1 (end of chain) and
//   a tombstone's st_info first: a reader on a weakly ordered CPU that sees a
//   new end-bit clear before the word after it still stops there, and tools
//   never see an all-zero (LOCAL) entry.
// * .dynsym's section header sh_size follows the high-water mark, so that
//   readelf, nm and gdb read only slots ever used.
//
// The bucket count grows (when ld.so's cached copy of it is found, see
// link-map-buckets.ts), so that dladdr, which walks every bucket word, costs
// what the bound symbols need, and chains stay about two symbols long:
// * The table is laid out for GNU_LIVE_FIRST_BUCKETS buckets with symoffset
//   1; its header says more at load (writeLoadShape), with symoffset moved
//   on by as many, so that ld.so's chain origin is the same. Then l_nbuckets
//   and the header go down to the first count, before anything is bound.
// * The buckets grow from M to T (a multiple) over the hash words of slots
//   1 + M - first … 1 + T - first. Those slots are emptied first: their runs
//   are copied away, and nothing takes a slot below the new floor. Once their
//   quarantine has passed, bucket c in M … T gets bucket c % M's word: the
//   chain of c % M holds every name of c (hash % T = c implies hash % M =
//   c % M), so a lookup dividing by M or by T finds every name. Then one
//   32-bit store raises l_nbuckets, and one 64-bit store the header's
//   nbuckets and symoffset, for tools and other processes loading it.
// * Buckets that share a run so form a class, owned by its first bucket
//   (runOwner). A bind appends to the shared run; the next copy of it splits
//   the class, each bucket republished with its own names only. dladdr walks
//   a shared run once per bucket that holds it (finding the same answer).
// * A lookup that read l_nbuckets just before a raise still divides by the
//   old count M: bucket c % M must keep every name of c % M for as long as
//   such a lookup may run. So a class is split only to a count that has been
//   l_nbuckets for QUARANTINE_MS (splitLevel), into one class of that count
//   per residue; until then a copy keeps it whole (or splits it part way).
// * A process that dlopened the file before a growth keeps its old count:
//   once classes split, it can miss names (a lookup dividing by the old
//   count, on a bucket whose chain now holds fewer names).
//
// A lookup of a name that stays bound (not unbound or replaced during it)
// finds it, even racing a copy of its run; one racing the name's bind, unbind
// or replace answers null or its previous or current address; none gets a mix
// of two entries. This holds for a lookup that takes under QUARANTINE_MS (one
// descheduled longer on an old run may miss after its retirement, and see its
// slots reused).
import { grownTo } from '../elf/bytes.js';
import { ELF64_ST_INFO, SHT_DYNSYM, STB_GLOBAL, STT_FILE, SYM64_SIZE } from '../elf/constants.js';
import { writeSymWords } from '../elf/encode.js';
import { gnuGrownShape, gnuHashString, gnuHashWithLength, gnuLiveMaxBuckets, hashedLength } from '../elf/hash.js';
import { utf8Length, writeString } from '../elf/strtab.js';
import type { ObjectLayout } from '../elf/writer.js';
import { LiveBloom } from './bloom.js';
import { DlbindError, locatedError } from './errors.js';
import { cachedShapeOf, findCachedBucketCount } from './link-map-buckets.js';
import { shSizeOffset } from './section-size.js';

/**
 * Old runs stay intact, and freed runs and string space wait, for at least
 * this many milliseconds (strings: and this many frees) before they become
 * tombstones and are reused, so that a dlsym() on another thread that was
 * standing on an old entry (it may have been descheduled there for a whole
 * time slice) has long moved on. A table with no fresh room waits rather than
 * reuse sooner.
 */
const QUARANTINE = 64;
const QUARANTINE_MS = 50;

/** st_info of a tombstone: dlsym refuses the type, tools hide it, and GLOBAL draws no readelf warning. */
const TOMBSTONE_INFO = ELF64_ST_INFO(STB_GLOBAL, STT_FILE);
/** The bucket count a table grows to without emptying slots first (5·2^7; its slots are tombstones from the first run). */
const GROWS_FREELY_TO = 640;
/** compactRuns leaves smaller tables alone: their runs fit in a few pages anyway. */
const PACK_AT_LEAST = 4096;
/** Slots a bucket's first run holds. */
const FIRST_RUN = 4;
/** Entries settleStep copies at most between two timer ticks, so that a large table settles without holding up the event loop. */
const SETTLE_STEP = 8192;
/**
 * And for at most about this many milliseconds: in a library of 200,000 to 1,000,000 symbols the
 * runs are spread over many pages, and 8,192 entries' worth held the event loop for 5 – 12 ms.
 */
const SETTLE_BUDGET_MS = 1;
/** Entries settleStep copies between two looks at the clock. */
const SETTLE_CLOCK_EVERY = 256;
/** How many times settleStep tries a class again that it found no room for, each once an old run has retired. */
const SETTLE_RETRIES = 2;
/** Entries from which moveEntries copies the words with copyWithin (a runtime call each) rather than one entry at a time. */
const BULK_MOVE_AT = 32;
const WORDS_PER_SYM = SYM64_SIZE / 4;
/** What takeRun throws instead of waiting out a quarantine while settleStep takes runs (made once: it is caught there). */
const settlingWouldWait = new Error('settling would wait for a run to retire');
/** Atomics.wait's target for a blocking sleep (never notified). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export interface BoundSymbol {
  /** A stable handle for the symbol while it is bound (not its .dynsym index, which moves when its run is copied). */
  slot: number;
  name: string;
  /** Address relative to the load base (st_value). */
  value: number;
  size: number;
}

/** A FIFO of numbers, each with the time it was pushed and a second number (a run's length). */
class FifoQueue {
  private items: Int32Array;
  private extras: Int32Array;
  private times: Float64Array;
  private head = 0;
  private tail = 0;
  constructor(capacity: number) {
    this.items = new Int32Array(Math.max(4, capacity));
    this.extras = new Int32Array(this.items.length);
    this.times = new Float64Array(this.items.length);
  }
  get length(): number {
    return this.tail - this.head;
  }
  push(v: number, time: number, extra = 0): void {
    if (this.tail === this.items.length) {
      if (this.head > 0) {
        this.items.copyWithin(0, this.head, this.tail);
        this.extras.copyWithin(0, this.head, this.tail);
        this.times.copyWithin(0, this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      } else {
        const n = this.items.length * 2;
        this.items = grownTo(this.items, n);
        this.extras = grownTo(this.extras, n);
        this.times = grownTo(this.times, n);
      }
    }
    this.times[this.tail] = time;
    this.extras[this.tail] = extra;
    this.items[this.tail++] = v;
  }
  /** When the oldest item was pushed (the queue must not be empty). */
  oldest(): number {
    return this.times[this.head]!;
  }
  /** The second number of the oldest item. */
  oldestExtra(): number {
    return this.extras[this.head]!;
  }
  /** When the newest item was pushed (the queue must not be empty). */
  newest(): number {
    return this.times[this.tail - 1]!;
  }
  shift(): number {
    return this.items[this.head++]!;
  }
  clear(): void {
    this.head = this.tail = 0;
  }
}

/**
 * The GNU hash of a name that is ASCII without NUL, its bytes copied to
 * `out` from `at` on the way; -1 for any other name. A function of its own:
 * V8 optimizes it some 500 binds into a fresh process, long before the
 * larger bindNew, which until then runs in the interpreter and the baseline
 * tier, where this loop was most of a bind's bytecodes.
 */
function hashCopyAscii(name: string, out: Uint8Array, at: number): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // NUL and non-ASCII (0 and >= 0x80) in one test.
    if ((c - 1) >>> 0 >= 0x7f) return -1;
    // h * 33 + c without Math.imul, a call in the interpreter and the baseline tier.
    h = ((h << 5) + h + c) | 0;
    out[at + i] = c;
  }
  return h >>> 0;
}

/** The slots of a run copied for `live` entries: room for half as many again. */
function runCapacityFor(live: number): number {
  let cap = FIRST_RUN;
  while (2 * cap < 3 * live + 2) cap *= 2;
  return cap;
}

/** Entries a copy of a run of `used` leaves: without `drop` (0: none), with the new entry when `str` >= 0 (in drop's place, if any). */
function liveAfterCopy(used: number, drop: number, str: number): number {
  return used - (drop !== 0 ? 1 : 0) + (str >= 0 ? 1 : 0);
}

function grownInt32(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  let n = a.length;
  while (n <= need) n *= 2;
  return grownTo(a, n);
}

export class LiveSymbolTable {
  private readonly symU32: Uint32Array;
  private readonly symBytes: Uint8Array;
  private readonly strings: Uint8Array;
  /** The bloom filter's 64-bit words as little-endian 32-bit halves. */
  private readonly bloom: Uint32Array;
  private readonly bloomMask: number;
  private readonly bloomShift: number;
  private readonly bloomFilter: LiveBloom;
  private readonly buckets: Uint32Array;
  /** The chain: hash word of .dynsym index i at [i - 1] (symoffset 1). */
  private readonly hashWords: Uint32Array;
  /** .dynsym's section header sh_size, as two 32-bit halves. */
  private readonly shSize: Uint32Array | undefined;
  /** The byte count sh_size holds now. */
  private publishedBytes = SYM64_SIZE;
  /** The bucket count lookups divide by now (ld.so's l_nbuckets). */
  nbuckets: number;
  /** The bucket count the table is laid out for (its chain starts after that many). */
  private readonly firstBuckets: number;
  /** The most buckets it grows to (the size of the buckets view). */
  private readonly maxBuckets: number;
  /** ld.so's l_nbuckets for this library, when found (at the first bind): the table grows through it. */
  private cachedBuckets: Uint32Array | undefined;
  /** Where ld.so loaded the library, until the first bind looks for that word (an idle library never does). */
  private loaded: { linkMap: bigint; loadBase: bigint } | undefined;
  /** Whether the table packs the runs it copies (see compactRuns). */
  private packing = false;
  /** The header's nbuckets and symoffset, as one 64-bit word (made when the count first changes). */
  private headerShape: BigUint64Array | undefined;
  /** Slots below this are lost to the growing bucket array (or about to be): no run is taken there. */
  private floor = 1;
  /** Slots below this never held a run a bucket reached (see adoptCount). */
  private pristine = 1;
  /** Growth starts when more than this many symbols are bound (Infinity: never, or under way). */
  private growAt = Number.POSITIVE_INFINITY;
  /** The bucket count a growth under way reaches (0: none under way). */
  private growTarget = 0;
  /**
   * When the slots a growth under way emptied have waited out their quarantine (performance.now()).
   * A double from the start, as lastNow: a 0 here turned double at the first growth that waits out
   * a quarantine (past 640 buckets, some 1,300 binds in), which deprecated the table's hidden class
   * and 42 maps with it while V8 was compiling the bind path (tests/v8-shapes.test.ts).
   */
  private growReadyAt = -0.5;
  /** Symbols that can be bound at once (maxSymbols). */
  readonly capacity: number;
  /** .dynsym slots, the null symbol included. */
  readonly slotCapacity: number;
  readonly stringCapacity: number;

  // Per bucket: its run (start 0: none), allocated lazily. Of a class (buckets sharing one run since a growth),
  // runStart holds the run for every bucket, runCap and runUsed only for its owner.
  private runStart: Int32Array<ArrayBuffer> | undefined;
  private runCap: Int32Array<ArrayBuffer> | undefined;
  private runUsed: Int32Array<ArrayBuffer> | undefined;
  /** Per bucket: the bucket whose run it shares (itself, unless a growth made it part of a class). */
  private runOwner: Int32Array<ArrayBuffer> | undefined;
  /** Per owner: the bucket count its run was made exact for (less than nbuckets: the owner of a class). */
  private runLevel: Int32Array<ArrayBuffer> | undefined;
  /**
   * The counts raised to within the last QUARANTINE_MS, oldest first, each with when
   * (performance.now() after the store): a lookup that read l_nbuckets before a raise may still
   * divide by the count before it. A class is split only to a count no lookup can still be
   * dividing by less than (splitLevel): split further, the bucket an older count picks would hold
   * only part of its names.
   */
  private readonly raises = new FifoQueue(4);
  /** The count before the oldest raise still in `raises` (the count itself when there is none). */
  private settledCount = 0;
  /**
   * The next bucket settleStep looks at, or -1 when it has nothing to do. A growth leaves every
   * class shared by the buckets it grew into until a bind into one of them splits it, and libc's
   * dladdr walks a shared run once for each of its buckets: 3,000 functions bound in a burst made
   * a dladdr take 0.5 – 2.5 ms, against 8 µs once every class was split.
   */
  private settleFrom = -1;
  /** Whether settleStep is taking runs: then they come from fresh slots but the last eighth or from retired runs, and never by waiting. */
  private settling = false;
  /** How many more times settleStep tries a class it found no room for (SETTLE_RETRIES after any progress). */
  private settleRetries = SETTLE_RETRIES;
  /** Per .dynsym index: the id of the live symbol there, 0 for none or a tombstone. Grows with the high-water mark. */
  private slotId: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per id: its name (undefined when free) and its .dynsym index. */
  private readonly idName: (string | undefined)[] = [undefined];
  private idSlot: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per id: its name's GNU hash (as int32), for a split to find its bucket at a new count without hashing the name again. */
  private idHash: Int32Array<ArrayBuffer> = new Int32Array(64);
  /**
   * Old copies not yet retired, per symbol: lingerOf[i] is the id whose old
   * copy is at .dynsym index i (0: none), lingerPrev[i] the next older one of
   * that id, idLinger[id] its newest. An unbind or replace makes them
   * tombstones at once, so that tools never list a name unbound or an address
   * replaced; only exact copies of bound symbols wait out the quarantine.
   */
  private lingerOf: Int32Array<ArrayBuffer> = new Int32Array(64);
  private lingerPrev: Int32Array<ArrayBuffer> = new Int32Array(64);
  private idLinger: Int32Array<ArrayBuffer> = new Int32Array(64);
  private readonly freeIds: number[] = [];
  private bound = 0;
  /** .dynsym indexes bindLocal filled (runs of one that no bucket reaches), with their names. */
  private readonly localName = new Map<number, string>();
  // DLBIND_FORCE_RELEASE_STORES=1 takes the aarch64 path on x86_64, so that it runs somewhere.
  private readonly weakMemoryOrder = process.arch === 'arm64' || process.env.DLBIND_FORCE_RELEASE_STORES === '1';
  /** The high-water mark: the next .dynsym index never handed out. */
  private nextFresh = 1;
  /**
   * performance.now() at the last release. A double from the start: a 0 here
   * (a small integer) turned double at the first release, which changed the
   * table's hidden class and deoptimized the bind path early in a process's first binds.
   */
  private lastNow = -0.5;
  /** Runs no bucket reaches any more, oldest first (start, capacity): intact until the quarantine has passed. */
  private readonly retiring = new FifoQueue(16);
  /** Retires runs once their quarantine has passed, when no table operation does it first. */
  private retireTimer: ReturnType<typeof setTimeout> | undefined;
  /** Called after old runs became tombstones, so that a debugger that read them can be told again. */
  onRetired: (() => void) | undefined;
  /** Retired runs by capacity, each a FIFO of start indexes: tombstones, past their quarantine, free to reuse. */
  private readonly freeRuns = new Map<number, FifoQueue>();
  private stringsNext: number;
  private stringsFreed = 0;
  /** Freed string ranges by length (terminator included), each a FIFO of offsets. */
  private readonly freeStrings = new Map<number, FifoQueue>();
  private freeStringCount = 0;

  /**
   * Told of each new high-water mark (object offsets [start, end) now in use),
   * so that core dumps include it; returns how far the dumped stretch now
   * reaches, so that string binds below it need not call.
   */
  private readonly onGrow: ((start: number, end: number) => number) | undefined;
  /** The object offset up to which .dynstr is in core dumps already. */
  private stringsDumped = 0;
  private symsDumped = 0;
  private chainDumped = 0;
  private readonly dynsymOffset: number;
  private readonly chainOffset: number;
  private readonly dynstrOffset: number;
  /** The GNU table's address relative to the load base. */
  private readonly gnuAddr: number;

  /**
   * `linkMap` and `loadBase` (the library as ld.so loaded it) let the bucket
   * count grow; without them, or when ld.so's copy of it is not found, it
   * stays at what the header said at load.
   */
  constructor(
    mem: Uint8Array,
    layout: ObjectLayout,
    maxSymbols: number,
    onGrow?: (start: number, end: number) => number,
    loaded?: { linkMap: bigint; loadBase: bigint },
  ) {
    this.onGrow = onGrow;
    this.dynsymOffset = layout.dynsym.offset;
    this.dynstrOffset = layout.dynstr.offset;
    const buf = mem.buffer;
    const base = mem.byteOffset;
    const gnu = layout.gnuHash;
    if (gnu === undefined) throw new Error('a live library needs a GNU hash table');
    this.capacity = maxSymbols;
    this.slotCapacity = layout.dynsymCapacity;
    this.stringCapacity = layout.dynstrCapacity;
    const slotWords = (this.slotCapacity * SYM64_SIZE) / 4;
    this.symU32 = new Uint32Array(buf, base + layout.dynsym.offset, slotWords);
    this.symBytes = new Uint8Array(buf, base + layout.dynsym.offset, slotWords * 4);
    this.strings = new Uint8Array(buf, base + layout.dynstr.offset, layout.dynstrCapacity);
    // The shape as the writer laid it out, read back from the table's header as ld.so reads it
    // (once per layout: a library's creation touches none of its pages).
    const [loadBuckets, bloomWords, bloomShift] = tableShape(mem, layout, gnu.offset);
    const first = layout.gnuBuckets;
    this.firstBuckets = first;
    this.maxBuckets = Math.max(loadBuckets, gnuLiveMaxBuckets(maxSymbols));
    this.gnuAddr = gnu.addr;
    this.bloomShift = bloomShift;
    this.bloomMask = bloomWords - 1;
    this.bloom = new Uint32Array(buf, base + gnu.offset + 16, bloomWords * 2);
    this.bloomFilter = new LiveBloom(this.bloom, this.bloomMask, this.bloomShift, this.weakMemoryOrder);
    const bucketsOffset = gnu.offset + 16 + bloomWords * 8;
    // Over the chain's first words too: the buckets grow into them.
    this.buckets = new Uint32Array(buf, base + bucketsOffset, this.maxBuckets);
    this.chainOffset = bucketsOffset + first * 4;
    // At the load count until the first bind finds ld.so's copy of it (adoptCount); the slots under its buckets
    // are lost meanwhile (made tombstones at the first run a local symbol takes), and for good if it is not found.
    this.nbuckets = loadBuckets;
    this.floor = gnuGrownShape(first, loadBuckets)[1];
    if (first !== loadBuckets) this.loaded = loaded;
    this.hashWords = new Uint32Array(buf, base + this.chainOffset, this.slotCapacity - 1);
    const sizeAt = shSizeOffset(mem, layout, layout.dynsym, SHT_DYNSYM);
    this.shSize = sizeAt === undefined ? undefined : new Uint32Array(buf, base + sizeAt, 2);
    this.stringsNext = layout.dynstrUsed;
    // sh_size already covers the null symbol: the zygote holds it (writeInitialDynsymSize).
  }

  get count(): number {
    return this.bound;
  }

  /** Bytes of .dynstr not yet handed out (freed space waiting for reuse not counted). */
  get stringBytesLeft(): number {
    return this.stringCapacity - this.stringsNext;
  }

  /** .dynsym slots ever used (the null symbol included): what sh_size covers. */
  get highWater(): number {
    return this.nextFresh;
  }

  /** The .dynsym index holding `name` in bucket `b`, or 0. */
  private find(name: string, hash: number, b: number): number {
    const runStart = this.runStart;
    if (runStart === undefined) return 0;
    const owner = this.runOwner![b]!;
    const start = runStart[owner]!;
    if (start === 0) return 0;
    const end = start + this.runUsed![owner]!;
    const words = this.hashWords;
    const half = hash >>> 1;
    for (let i = start; i < end; i++) {
      if (words[i - 1]! >>> 1 === half) {
        const id = this.slotId[i]!;
        if (id !== 0 && this.idName[id] === name) return i;
      }
    }
    return 0;
  }

  /** The id of the symbol bound as `name`, or 0. */
  slotOfName(name: string): number {
    const h = gnuHashWithLength(name);
    const at = this.find(name, h, h % this.nbuckets);
    return at === 0 ? 0 : this.slotId[at]!;
  }

  get(name: string): BoundSymbol | undefined {
    const id = this.slotOfName(name);
    if (id === 0) return undefined;
    const at = this.idSlot[id]!;
    return { slot: id, name, value: this.valueAt(at), size: this.sizeAt(at) };
  }

  private valueAt(at: number): number {
    return this.symU32[at * 6 + 2]! + this.symU32[at * 6 + 3]! * 4294967296;
  }

  private sizeAt(at: number): number {
    return this.symU32[at * 6 + 4]! + this.symU32[at * 6 + 5]! * 4294967296;
  }

  /** The name bound under an id, or undefined. */
  nameAt(id: number): string | undefined {
    return this.idName[id];
  }

  /** STT_* of the symbol under an id. */
  typeOf(id: number): number {
    return this.symBytes[this.idSlot[id]! * SYM64_SIZE + 4]! & 0xf;
  }

  /** Every bound symbol. */
  *entries(): IterableIterator<BoundSymbol> {
    for (let id = 1; id < this.idName.length; id++) {
      const name = this.idName[id];
      if (name === undefined) continue;
      const at = this.idSlot[id]!;
      yield { slot: id, name, value: this.valueAt(at), size: this.sizeAt(at) };
    }
  }

  /**
   * Publishes a symbol (see the protocol above) and returns its id. With
   * `replace`, an existing symbol of that name is repointed in one step and
   * keeps its id.
   */
  bind(name: string, value: number, size: number, info: number, other: number, shndx: number, replace: boolean): number {
    const hash = gnuHashWithLength(name);
    const byteLength = hashedLength.bytes;
    // The first bind may change the count (adoptCount).
    if (this.runStart === undefined) this.makeRuns();
    const b = hash % this.nbuckets;
    const old = this.find(name, hash, b);
    if (old !== 0) {
      if (!replace) throw new DlbindError('EEXIST', `symbol '${name}' is already bound (pass { replace: true } to repoint it)`);
      // The same name: the new entry shares the old one's string, and the symbol its id.
      const id = this.slotId[old]!;
      const at = this.copyRun(b, old, this.symU32[old * WORDS_PER_SYM]!, info, other, shndx, value, size, hash);
      this.slotId[at] = id;
      this.idSlot[id] = at;
      return id;
    }
    if (this.bound >= this.capacity) {
      throw new DlbindError('ESYMFULL', `the symbol table is full: ${this.bound} of maxSymbols ${this.capacity} bound (raise maxSymbols or scale at dlcreate)`);
    }
    const str = this.takeString(byteLength + 1, name);
    let at: number;
    try {
      at = this.append(b, hash, str, info, other, shndx, value, size);
    } catch (err) {
      this.giveBackString(str, byteLength + 1, Number.NEGATIVE_INFINITY);
      throw err;
    }
    const written = writeString(this.strings, str, name);
    this.strings[str + written] = 0;
    const id = this.takeId(name);
    this.idHash[id] = hash;
    this.bound++;
    this.slotId[at] = id;
    this.idSlot[id] = at;
    if (this.bound > this.growAt || this.growTarget !== 0) this.advanceGrowth();
    return id;
  }

  /**
   * bind for the common case, in one pass over the name: a new symbol whose
   * name is ASCII without NUL, with fresh string room. The name's bytes go
   * straight to .dynstr's next free bytes while it is hashed (unreferenced
   * until the entry is published, so a duplicate leaves nothing behind).
   * Returns the id, or 0 when the case is not the common one (a duplicate, a
   * full table, a name that needs checking or encoding, freed strings due for
   * reuse): `bind` then does it, or throws, with every check.
   */
  bindNew(name: string, value: number, size: number, info: number, shndx: number): number {
    const n = name.length;
    const str = this.stringsNext;
    if (n === 0 || str + n + 1 > this.stringCapacity || this.freeStringCount > QUARANTINE || this.bound >= this.capacity) return 0;
    const strings = this.strings;
    const hash = hashCopyAscii(name, strings, str);
    if (hash < 0) return 0;
    strings[str + n] = 0;
    const runStart = this.runStart ?? this.makeRuns();
    const b = hash % this.nbuckets;
    const runUsed = this.runUsed!;
    const owner = this.runOwner![b]!;
    const start = runStart[owner]!;
    const used = runUsed[owner]!;
    const words = this.hashWords;
    // The duplicate check. The bloom filter holds the bits of every bound name, so a name
    // whose two bits are not both set is not bound: most new names need no walk along the
    // chain (some 500 entries in a full table of 2,048 buckets).
    const bloom = this.bloom;
    const word = ((hash >>> 6) & this.bloomMask) * 2;
    const b1 = hash & 63;
    const b2 = (hash >>> this.bloomShift) & 63;
    if ((bloom[word + (b1 >>> 5)]! & (1 << (b1 & 31))) !== 0 && (bloom[word + (b2 >>> 5)]! & (1 << (b2 & 31))) !== 0 && this.find(name, hash, b) !== 0)
      return 0;
    let at: number;
    // A run copy can fail (no slots left): the name's bytes are then not taken yet.
    if (start === 0 || used === this.runCap![owner]!) at = this.copyRun(b, 0, str, info, 0, shndx, value, size, hash);
    else {
      // append's stores, in line: the entry, its hash word with the end bit, its bloom bits, then the publishing store.
      at = start + used;
      const u32 = this.symU32;
      const w = at * WORDS_PER_SYM;
      u32[w] = str;
      u32[w + 1] = info | (shndx << 16);
      // Values and sizes are below 2^53: the division's integer part fits 32 bits.
      u32[w + 2] = value >>> 0;
      u32[w + 3] = (value / 4294967296) | 0;
      u32[w + 4] = size >>> 0;
      u32[w + 5] = (size / 4294967296) | 0;
      words[at - 1] = hash | 1;
      this.bloomFilter.add(hash);
      if (this.weakMemoryOrder) Atomics.store(words, at - 2, words[at - 2]! & ~1);
      else words[at - 2] = words[at - 2]! & ~1;
      runUsed[owner] = used + 1;
    }
    this.stringsNext = str + n + 1;
    if (this.dynstrOffset + str + n + 1 > this.stringsDumped) this.stringsGrew(str);
    const id = this.takeId(name);
    this.idHash[id] = hash;
    this.bound++;
    this.slotId[at] = id;
    this.idSlot[id] = at;
    if (this.bound > this.growAt || this.growTarget !== 0) this.advanceGrowth();
    return id;
  }

  /**
   * Binds a batch of new symbols, given as columns (names already checked),
   * each as bind binds it, and returns their ids. All or nothing: when one
   * fails (its name is bound already or appears twice in the batch, or the
   * table is full), the ones this batch bound are unbound again and the error
   * is thrown with the failing entry's index (`names[i]: ...`).
   */
  bindBatch(names: readonly string[], values: Float64Array, sizes: Float64Array, infos: Uint8Array, shndx: Uint16Array): Int32Array {
    const count = names.length;
    if (this.bound + count > this.capacity) {
      throw new DlbindError(
        'ESYMFULL',
        `the symbol table has no room for ${count} more symbols: ${this.bound} of maxSymbols ${this.capacity} bound (raise maxSymbols or scale at dlcreate)`,
      );
    }
    // Names take at least a byte a character: a batch that cannot fit fails before anything is stored (a stored
    // name's bytes wait out the quarantine when the batch is undone, so failing late would cost string room).
    let least = 0;
    for (let k = 0; k < count; k++) least += names[k]!.length + 1;
    const room = this.stringCapacity - this.stringsNext + this.stringsFreed;
    if (least > room) {
      throw new DlbindError(
        'ESTRFULL',
        `the string table has no room for the batch's names: ${least} bytes or more needed, ${this.stringCapacity - this.stringsNext} never used and ${this.stringsFreed} freed, of stringTableSize ${this.stringCapacity} (raise stringTableSize or scale at dlcreate)`,
      );
    }
    const ids = new Int32Array(count);
    let i = 0;
    try {
      for (; i < count; i++) {
        const name = names[i]!;
        let id = this.bindNew(name, values[i]!, sizes[i]!, infos[i]!, shndx[i]!);
        if (id === 0) id = this.bind(name, values[i]!, sizes[i]!, infos[i]!, 0, shndx[i]!, false);
        ids[i] = id;
      }
    } catch (err) {
      for (let k = i - 1; k >= 0; k--) this.unbind(names[k]!);
      throw locatedError(err, `names[${i}]`);
    }
    return ids;
  }

  /** Removes a symbol: its bucket's run is republished without it, so no lookup finds or names it. */
  unbind(name: string): BoundSymbol | undefined {
    const hash = gnuHashWithLength(name);
    const bytes = hashedLength.bytes;
    const b = hash % this.nbuckets;
    const at = this.find(name, hash, b);
    if (at === 0) return undefined;
    const id = this.slotId[at]!;
    const result = { slot: id, name, value: this.valueAt(at), size: this.sizeAt(at) };
    const str = this.symU32[at * WORDS_PER_SYM]!;
    this.copyRun(b, at, -1, 0, 0, 0, 0, 0, 0);
    this.idName[id] = undefined;
    this.freeIds.push(id);
    this.bound--;
    this.bloomFilter.remove(hash, () => this.liveHashes(), this.bound);
    this.giveBackString(str, bytes + 1, this.lastNow);
    if (this.growTarget !== 0) this.advanceGrowth();
    return result;
  }

  /**
   * Writes a STB_LOCAL entry in a run of its own that no bucket word points
   * at: dlsym and dladdr never reach it, while a debugger reading .dynsym
   * names the code it covers (a static function of a loaded object). Local
   * names need not be unique. Returns its .dynsym index, for unbindLocal.
   */
  bindLocal(name: string, value: number, size: number, info: number, shndx: number): number {
    const bytes = utf8Length(name);
    const str = this.takeString(bytes + 1, name);
    let at: number;
    try {
      at = this.takeRun(1);
    } catch (err) {
      this.giveBackString(str, bytes + 1, Number.NEGATIVE_INFINITY);
      throw err;
    }
    const written = writeString(this.strings, str, name);
    this.strings[str + written] = 0;
    writeSymWords(this.symU32, at * WORDS_PER_SYM, str, info, 0, shndx, value, size);
    this.hashWords[at - 1] = 1;
    this.localName.set(at, name);
    return at;
  }

  /** Removes an entry bindLocal wrote: a tombstone, its slot and name waiting out the quarantine. */
  unbindLocal(at: number): void {
    const name = this.localName.get(at);
    if (name === undefined) return;
    this.localName.delete(at);
    this.tombstone(at);
    const now = performance.now();
    this.lastNow = now;
    this.freeRun(at, 1, now);
    this.giveBackString(this.symU32[at * WORDS_PER_SYM]!, utf8Length(name) + 1, now);
  }

  /** Unpublishes every symbol at once (bucket words first), as dldelete does before dlclose. */
  clear(): void {
    const runStart = this.runStart;
    if (runStart !== undefined) {
      for (let b = 0; b < this.nbuckets; b++) if (runStart[b] !== 0) this.buckets[b] = 0;
      runStart.fill(0);
      this.runCap!.fill(0);
      this.runUsed!.fill(0);
      for (let b = 0; b < this.nbuckets; b++) this.runOwner![b] = b;
      this.runLevel!.fill(this.nbuckets);
    }
    // A growth under way stops where it is (its emptied slots stay lost); the count reached stays.
    this.growTarget = 0;
    this.settleFrom = -1;
    this.growAt = this.cachedBuckets !== undefined && this.nbuckets < this.maxBuckets ? 2 * this.nbuckets : Number.POSITIVE_INFINITY;
    this.nextFresh = 1;
    this.publishHighWater();
    this.localName.clear();
    this.bloomFilter.reset();
    this.idName.length = 1;
    this.freeIds.length = 0;
    this.bound = 0;
    this.freeRuns.clear();
    this.retiring.clear();
    this.lingerOf.fill(0);
    this.idLinger.fill(0);
    if (this.retireTimer !== undefined) clearTimeout(this.retireTimer);
    this.retireTimer = undefined;
    this.freeStrings.clear();
    this.freeStringCount = 0;
    this.stringsFreed = 0;
  }

  private takeId(name: string): number {
    let id = this.freeIds.length > 0 ? this.freeIds.pop() : undefined;
    if (id === undefined) {
      id = this.idName.length;
      // Growing by push keeps idName a packed array.
      this.idName.push(name);
      if (id >= this.idSlot.length) {
        this.idSlot = grownInt32(this.idSlot, id);
        this.idLinger = grownInt32(this.idLinger, id);
        this.idHash = grownInt32(this.idHash, id);
      }
    } else this.idName[id] = name;
    return id;
  }

  /** The per-bucket run arrays, made at the first bind (an idle library has none). */
  private makeRuns(): Int32Array {
    if (this.loaded !== undefined) this.adoptCount(this.loaded);
    const n = this.nbuckets;
    this.settledCount = n;
    this.runCap = new Int32Array(n);
    this.runUsed = new Int32Array(n);
    this.runOwner = new Int32Array(n);
    for (let b = 0; b < n; b++) this.runOwner[b] = b;
    this.runLevel = new Int32Array(n).fill(n);
    this.runStart = new Int32Array(n);
    return this.runStart;
  }

  /**
   * At the first bind: finds ld.so's l_nbuckets and brings it and the header
   * down to the first count. Nothing is bound, so every bucket is empty, which
   * is right for any count. ld.so first, then tools.
   */
  private adoptCount(loaded: { linkMap: bigint; loadBase: bigint }): void {
    this.loaded = undefined;
    const [nbuckets, symoffset] = gnuGrownShape(this.firstBuckets, this.nbuckets);
    const shape = cachedShapeOf(loaded.linkMap, loaded.loadBase, this.gnuAddr, {
      nbuckets,
      symoffset,
      bloomWords: this.bloomMask + 1,
      bloomShift: this.bloomShift,
    });
    const word = findCachedBucketCount(shape);
    if (word === undefined) return;
    // The header's first two words, just before the bloom words.
    this.headerShape = new BigUint64Array(this.bloom.buffer, this.bloom.byteOffset - 16, 1);
    this.cachedBuckets = word;
    this.nbuckets = this.firstBuckets;
    this.store32(word, 0, this.firstBuckets);
    this.publishShape();
    // The slots under the first GROWS_FREELY_TO buckets are never handed out (tombstones from the first run on,
    // skipToFloor), so growths up to that count need no emptied slots and no quarantine: a table bound at full
    // speed does not wait 50 ms a step with a few buckets. Slots a local symbol took meanwhile lie above them.
    this.pristine = gnuGrownShape(this.firstBuckets, Math.min(this.maxBuckets, GROWS_FREELY_TO))[1];
    this.floor = this.pristine;
    this.growAt = 2 * this.firstBuckets;
  }

  /** Writes a new entry into bucket b's run, appending when there is room, and publishes it. Returns its .dynsym index. */
  private append(b: number, hash: number, str: number, info: number, other: number, shndx: number, value: number, size: number): number {
    if (this.runStart === undefined) this.makeRuns();
    const owner = this.runOwner![b]!;
    const start = this.runStart![owner]!;
    const used = this.runUsed![owner]!;
    if (start === 0 || used === this.runCap![owner]!) return this.copyRun(b, 0, str, info, other, shndx, value, size, hash);
    const at = start + used;
    writeSymWords(this.symU32, at * WORDS_PER_SYM, str, info, other, shndx, value, size);
    this.hashWords[at - 1] = hash | 1;
    this.addToBloom(hash);
    // The publishing store: the previous last word loses its end bit.
    this.store32(this.hashWords, at - 2, this.hashWords[at - 2]! & ~1);
    this.runUsed![owner] = used + 1;
    return at;
  }

  /**
   * Republishes bucket b as a fresh run holding its live entries but `drop`
   * (0: none), plus, unless `str` is -1, a new entry (in `drop`'s place when
   * there is one, else last). Returns the new entry's .dynsym index (0 if none).
   * A bucket of a class splits the class (splitRun).
   */
  private copyRun(b: number, drop: number, str: number, info: number, other: number, shndx: number, value: number, size: number, hash: number): number {
    if (this.runLevel![this.runOwner![b]!] !== this.nbuckets)
      return this.splitRun(this.runOwner![b]!, this.splitLevel(), drop, str, info, other, shndx, value, size, hash);
    const runStart = this.runStart!;
    const start = runStart[b]!;
    const used = start === 0 ? 0 : this.runUsed![b]!;
    const live = liveAfterCopy(used, drop, str);
    let fresh = 0;
    let cap = 0;
    let at = 0;
    if (live > 0) {
      fresh = this.takeRunFor(live);
      cap = this.lastRunCap;
      this.prepareRun(fresh, cap);
      const words = this.hashWords;
      let to = this.moveRun(start, used, drop, str, fresh);
      at = this.movedAt;
      if (str >= 0) {
        if (at === 0) at = to++;
        this.writeNewEntry(at, str, info, other, shndx, value, size, hash, drop === 0);
      }
      words[to - 2] = words[to - 2]! | 1;
    }
    // The publishing store: the bucket word points at the new run (or at nothing).
    this.store32(this.buckets, b, fresh);
    this.releaseRun(start, used, this.runCap![b]!, drop);
    runStart[b] = fresh;
    this.runCap![b] = cap;
    this.runUsed![b] = live;
    return at;
  }

  /**
   * The count a class may be split to now: the largest count that has been
   * l_nbuckets for QUARANTINE_MS or longer, so that no lookup still divides
   * by a smaller one (a lookup standing longer is outside the guarantee, as
   * with runs). Reads the clock: only a copy of a class not yet split to the
   * present count asks.
   */
  private splitLevel(): number {
    const raises = this.raises;
    if (raises.length === 0) return this.nbuckets;
    const now = performance.now();
    if (now > this.lastNow) this.lastNow = now;
    while (raises.length > 0 && now - raises.oldest() >= QUARANTINE_MS) this.settledCount = raises.shift();
    return raises.length === 0 ? this.nbuckets : this.settledCount;
  }

  /**
   * copyRun for a class: its run's entries (but `drop`, with the new entry
   * as copyRun places it) go to one fresh run per class of count `to` within
   * it (to = the present count: one a bucket), each holding the names whose
   * hash modulo `to` is that class's, and each bucket word of the old class is
   * republished. Until its own store a bucket's word still points at the
   * shared run, which holds its names too. With `to` the class's own level it
   * is a copy of the shared run. The runs are all taken before anything is
   * stored, so that a full table throws with nothing changed.
   */
  private splitRun(
    owner: number,
    to: number,
    drop: number,
    str: number,
    info: number,
    other: number,
    shndx: number,
    value: number,
    size: number,
    hash: number,
  ): number {
    const n = this.nbuckets;
    const level = this.runLevel![owner]!;
    const runStart = this.runStart!;
    const runOwner = this.runOwner!;
    const start = runStart[owner]!;
    const used = start === 0 ? 0 : this.runUsed![owner]!;
    const oldCap = this.runCap![owner]!;
    // Member k is the class of count `to` owned by owner + k·level; per member: entries, run start, capacity, next slot.
    const members = to / level;
    const s = this.splitScratch(members, used);
    const counts = s.counts;
    counts.fill(0, 0, members);
    const memberOf = s.memberOf;
    // One member (the class's own level, no split yet): a copy of the shared run, in bulk. After a burst
    // of binds shorter than a quarantine the first classes hold thousands of entries each.
    if (members === 1) counts[0] = liveAfterCopy(used, drop, str);
    else {
      for (let from = start; from < start + used; from++) {
        if (from === drop && str < 0) continue;
        const c = (from === drop ? hash : this.idHash[this.slotId[from]!]! >>> 0) % to;
        const k = (c - owner) / level;
        memberOf[from - start] = k;
        counts[k]!++;
      }
      if (str >= 0 && drop === 0) counts[((hash % to) - owner) / level]!++;
    }
    const starts = s.starts;
    const caps = s.caps;
    const next = s.next;
    let k = 0;
    try {
      // In bucket order, so that packed runs (see compactRuns) lie as a linker lays them.
      for (; k < members; k++) {
        const live = counts[k]!;
        starts[k] = live === 0 ? 0 : this.takeRunFor(live);
        caps[k] = live === 0 ? 0 : this.lastRunCap;
        next[k] = starts[k]!;
      }
    } catch (err) {
      // Never published: free to reuse after the quarantine like any other.
      const now = performance.now();
      for (let j = 0; j < k; j++) if (starts[j] !== 0) this.freeRun(starts[j]!, caps[j]!, now);
      throw err;
    }
    for (let j = 0; j < members; j++) if (starts[j] !== 0) this.prepareRun(starts[j]!, caps[j]!);
    let at = 0;
    if (members === 1) {
      next[0] = this.moveRun(start, used, drop, str, next[0]!);
      at = this.movedAt;
    } else {
      for (let from = start; from < start + used; from++) {
        if (from === drop && str < 0) continue;
        const j = memberOf[from - start]!;
        if (from === drop) at = next[j]!;
        else this.moveEntry(from, next[j]!);
        next[j]!++;
      }
    }
    if (str >= 0) {
      if (at === 0) at = next[((hash % to) - owner) / level]!++;
      this.writeNewEntry(at, str, info, other, shndx, value, size, hash, drop === 0);
    }
    const words = this.hashWords;
    for (let j = 0; j < members; j++) if (starts[j] !== 0) words[next[j]! - 2] = words[next[j]! - 2]! | 1;
    for (let j = 0; j < members; j++) {
      const c = owner + j * level;
      this.runCap![c] = caps[j]!;
      this.runUsed![c] = next[j]! - starts[j]!;
      this.runLevel![c] = to;
    }
    // Every bucket of the old class: bucket c (c ≡ owner modulo level) now belongs to the class c mod to.
    for (let c = owner; c < n; c += level) {
      const j = ((c % to) - owner) / level;
      this.store32(this.buckets, c, starts[j]!);
      runStart[c] = starts[j]!;
      runOwner[c] = owner + j * level;
    }
    this.releaseRun(start, used, oldCap, drop);
    return at;
  }

  /** Where moveRun kept the dropped entry's slot for the new one (0: it kept none). */
  private movedAt = 0;

  private scratch = {
    counts: new Int32Array(16),
    starts: new Int32Array(16),
    caps: new Int32Array(16),
    next: new Int32Array(16),
    memberOf: new Int32Array(16),
  };

  /** splitRun's per-member and per-entry arrays, grown to hold `members` and `entries` (kept: splits are frequent after a growth). */
  private splitScratch(members: number, entries: number): LiveSymbolTable['scratch'] {
    const s = this.scratch;
    if (s.counts.length < members) {
      const len = grownInt32(s.counts, members).length;
      s.counts = new Int32Array(len);
      s.starts = new Int32Array(len);
      s.caps = new Int32Array(len);
      s.next = new Int32Array(len);
    }
    if (s.memberOf.length <= entries) s.memberOf = grownInt32(s.memberOf, entries);
    return s;
  }

  /**
   * The run a copy of `live` entries goes to (its capacity in lastRunCap):
   * with room for half as many again, or, while packing, just that many at
   * the high-water mark.
   */
  private takeRunFor(live: number): number {
    return this.packing ? this.takeFresh(live) || this.takeRun(live) : this.takeRun(runCapacityFor(live));
  }

  /** Every slot of a freshly taken run reads as the end of a chain and as a tombstone (zeros would be LOCAL symbols to tools). */
  private prepareRun(fresh: number, cap: number): void {
    this.hashWords.fill(1, fresh - 1, fresh - 1 + cap);
    const bytes = this.symBytes;
    for (let i = fresh; i < fresh + cap; i++) if (bytes[i * SYM64_SIZE + 4] !== TOMBSTONE_INFO) bytes[i * SYM64_SIZE + 4] = TOMBSTONE_INFO;
  }

  /**
   * Moves a run's entries [start, start + used) to the slots from `to` on, in order, leaving out
   * `drop` (0: none) or, when `str` >= 0, keeping its slot for the new entry (then in movedAt; 0 when
   * none was kept). Returns the slot after the last one filled.
   */
  private moveRun(start: number, used: number, drop: number, str: number, to: number): number {
    this.movedAt = 0;
    if (drop === 0) {
      this.moveEntries(start, used, to);
      return to + used;
    }
    const before = drop - start;
    this.moveEntries(start, before, to);
    let next = to + before;
    if (str >= 0) this.movedAt = next++;
    const after = start + used - drop - 1;
    this.moveEntries(drop + 1, after, next);
    return next + after;
  }

  /** moveEntry for `count` consecutive entries, the words copied in bulk where there are many. */
  private moveEntries(from: number, count: number, to: number): void {
    if (count < BULK_MOVE_AT) {
      for (let k = 0; k < count; k++) this.moveEntry(from + k, to + k);
      return;
    }
    this.symU32.copyWithin(to * WORDS_PER_SYM, from * WORDS_PER_SYM, (from + count) * WORDS_PER_SYM);
    const words = this.hashWords;
    words.copyWithin(to - 1, from - 1, from - 1 + count);
    const slotId = this.slotId;
    slotId.copyWithin(to, from, from + count);
    for (let k = 0; k < count; k++) {
      const t = to + k;
      words[t - 1] = words[t - 1]! & ~1;
      this.bookMove(from + k, t, slotId[t]!);
    }
  }

  /** Copies the live entry at `from` to `to` in a run not yet published; the one left behind is an old copy of it. */
  private moveEntry(from: number, to: number): void {
    const u32 = this.symU32;
    const id = this.slotId[from]!;
    // Six words by hand: copyWithin is a runtime call, dearer than the copy.
    const t = to * WORDS_PER_SYM;
    const f = from * WORDS_PER_SYM;
    u32[t] = u32[f]!;
    u32[t + 1] = u32[f + 1]!;
    u32[t + 2] = u32[f + 2]!;
    u32[t + 3] = u32[f + 3]!;
    u32[t + 4] = u32[f + 4]!;
    u32[t + 5] = u32[f + 5]!;
    this.hashWords[to - 1] = this.hashWords[from - 1]! & ~1;
    this.slotId[to] = id;
    this.bookMove(from, to, id);
  }

  /** The books of symbol `id` moved from `from` to `to`: the entry left behind is an old copy of it (the newer one still retiring, if any, before it). */
  private bookMove(from: number, to: number, id: number): void {
    this.idSlot[id] = to;
    const newest = this.idLinger[id]!;
    this.lingerPrev[from] = this.lingerOf[newest] === id ? newest : 0;
    this.lingerOf[from] = id;
    this.idLinger[id] = from;
  }

  private writeNewEntry(at: number, str: number, info: number, other: number, shndx: number, value: number, size: number, hash: number, isNew: boolean): void {
    writeSymWords(this.symU32, at * WORDS_PER_SYM, str, info, other, shndx, value, size);
    this.hashWords[at - 1] = hash & ~1;
    // A replaced name's bits are set already (and counted once).
    if (isNew) this.addToBloom(hash);
  }

  /**
   * After the bucket words no longer point at the run [start, start + used)
   * of `cap` slots: it stays intact, for a reader that loaded a bucket word
   * before, and becomes tombstones when its quarantine has passed
   * (retireDue). Not so the removed or replaced entry and its older copies:
   * a lookup of that name racing this may answer null.
   */
  private releaseRun(start: number, used: number, cap: number, drop: number): void {
    if (start === 0) return;
    if (drop !== 0) this.tombstoneCopies(drop);
    for (let from = start; from < start + used; from++) this.slotId[from] = 0;
    const now = performance.now();
    this.lastNow = now;
    this.freeRun(start, cap, now);
  }

  private addToBloom(hash: number): void {
    this.bloomFilter.add(hash);
  }

  /** The GNU hashes of the names the buckets' chains reach. */
  private *liveHashes(): IterableIterator<number> {
    for (let id = 1; id < this.idName.length; id++) {
      const name = this.idName[id];
      if (name !== undefined) yield gnuHashString(name);
    }
  }

  /**
   * A store that publishes: on aarch64 a plain store may become visible
   * before the ones above it, and Atomics.store is a store-release there
   * (stlr), so a reader that sees it also sees the whole entry. x86's stores
   * are seen in program order already.
   */
  private store32(a: Uint32Array, i: number, v: number): void {
    if (this.weakMemoryOrder) Atomics.store(a, i, v);
    else a[i] = v;
  }

  /** Makes an entry of an unpublished run invisible to dlsym and to tools, the rest of it kept for a reader still there. */
  private tombstone(at: number): void {
    if (this.weakMemoryOrder) Atomics.store(this.symBytes, at * SYM64_SIZE + 4, TOMBSTONE_INFO);
    else this.symBytes[at * SYM64_SIZE + 4] = TOMBSTONE_INFO;
  }

  /** Queues an unreachable run for retirement; a timer retires it if no table operation does first. */
  private freeRun(start: number, cap: number, now: number): void {
    this.retiring.push(start, now, cap);
    if (this.retireTimer === undefined) this.armRetireTimer(QUARANTINE_MS + 1);
  }

  private armRetireTimer(ms: number): void {
    const t = setTimeout(() => {
      this.retireTimer = undefined;
      const now = performance.now();
      if (now > this.lastNow) this.lastNow = now;
      this.retireDue(now);
      if (this.growTarget !== 0) this.advanceGrowth();
      let next = this.retiring.length > 0 ? this.retiring.oldest() + QUARANTINE_MS + 1 : Number.POSITIVE_INFINITY;
      if (this.growTarget !== 0) next = Math.min(next, this.growReadyAt + 1);
      next = Math.min(next, this.settleStep(this.lastNow));
      // A growth finished above armed the timer already.
      if (next !== Number.POSITIVE_INFINITY && this.retireTimer === undefined) this.armRetireTimer(Math.max(1, next - performance.now()));
    }, ms);
    // Unref'd: retirement never keeps the process alive (an exiting process needs no tidy table).
    t.unref?.();
    this.retireTimer = t;
  }

  /** A retiring run's entries become tombstones: dlsym refuses them and tools no longer list them. */
  private tombstoneRun(start: number, cap: number): void {
    const lingerOf = this.lingerOf;
    for (let i = start; i < start + cap; i++) {
      this.tombstone(i);
      lingerOf[i] = 0;
    }
  }

  /** The entry at `at`, just made unreachable, and every old copy of its symbol not yet retired become tombstones. */
  private tombstoneCopies(at: number): void {
    const id = this.slotId[at]!;
    this.tombstone(at);
    const lingerOf = this.lingerOf;
    // Newest to oldest; a slot retired (or walked already) ends it, as every older one retired before it.
    for (let i = this.idLinger[id]!; i !== 0 && lingerOf[i] === id; i = this.lingerPrev[i]!) {
      this.tombstone(i);
      lingerOf[i] = 0;
    }
    this.idLinger[id] = 0;
  }

  /**
   * Retires the runs unreachable for at least the quarantine by `now`: they
   * become tombstones and free to reuse (a retired run has waited out its
   * quarantine). Returns how many were retired.
   */
  private retireDue(now: number): number {
    const q = this.retiring;
    let n = 0;
    while (q.length > 0 && now - q.oldest() >= QUARANTINE_MS) {
      const time = q.oldest();
      const cap = q.oldestExtra();
      const start = q.shift();
      this.tombstoneRun(start, cap);
      this.addFree(start, cap, time);
      n++;
    }
    if (n > 0 && this.onRetired !== undefined) this.onRetired();
    return n;
  }

  /**
   * Retires the old runs whose quarantine has passed; with `wait`, first
   * blocks until every one's has (under QUARANTINE_MS), so that tools reading
   * .dynsym then list each bound symbol once. Returns how many retired.
   */
  retire(wait: boolean): number {
    if (wait) this.settleGrowth();
    const q = this.retiring;
    if (q.length === 0) return 0;
    const now = wait ? this.waitFor(q.newest() + QUARANTINE_MS) : performance.now();
    if (now > this.lastNow) this.lastNow = now;
    return this.retireDue(now);
  }

  /** Old runs not yet tombstones: while there are any, tools may list a bound symbol more than once. */
  get copiesLingering(): number {
    return this.retiring.length;
  }

  /** The capacity of the run takeRun returned last (a larger free run may stand in). */
  private lastRunCap = 0;

  /**
   * A run of `cap` slots: a retired one, else fresh ones, else one cut from
   * retired neighbours merged. With none, it waits (at most the quarantine)
   * for runs still retiring, so that no slot a reader may stand on is reused.
   */
  private takeRun(cap: number): number {
    this.lastRunCap = cap;
    if (this.retiring.length > 0 && this.lastNow - this.retiring.oldest() >= QUARANTINE_MS) this.retireDue(this.lastNow);
    const q = this.freeRuns.get(cap);
    if (q !== undefined && q.length > 0) return q.shift();
    const fresh = this.takeFresh(cap);
    if (fresh !== 0) return fresh;
    // No fresh room: a larger retired run cut to size, else retired runs merged with their retired neighbours.
    for (;;) {
      const cut = this.largerRun(cap) || this.coalescedRun(cap);
      if (cut !== 0) return cut;
      if (this.retiring.length === 0) break;
      if (this.settling) throw settlingWouldWait;
      // Only runs still in their quarantine are left: wait for the oldest (under QUARANTINE_MS), retire it, try again.
      const now = this.waitFor(this.retiring.oldest() + QUARANTINE_MS);
      this.retireDue(now);
    }
    throw new DlbindError(
      'ESYMFULL',
      `the symbol table has no room for another run of ${cap} slots: ${this.bound} of maxSymbols ${this.capacity} bound, ${this.nextFresh - 1} of ${this.slotCapacity - 1} slots used and none free (names hash unevenly; freed slots are reused ${QUARANTINE_MS} ms after they are freed; raise maxSymbols or scale at dlcreate)`,
    );
  }

  /** The per-slot books grown to the high-water mark. */
  private coverSlots(): void {
    if (this.nextFresh <= this.slotId.length) return;
    this.slotId = grownInt32(this.slotId, this.nextFresh);
    this.lingerOf = grownInt32(this.lingerOf, this.nextFresh);
    this.lingerPrev = grownInt32(this.lingerPrev, this.nextFresh);
  }

  /** `cap` slots at the high-water mark, or 0 when there are not so many left. */
  private takeFresh(cap: number): number {
    if (this.nextFresh < this.floor) this.skipToFloor();
    if (this.nextFresh + cap > this.slotCapacity - (this.settling ? this.slotCapacity >> 3 : 0)) return 0;
    const at = this.nextFresh;
    this.nextFresh += cap;
    this.lastRunCap = cap;
    this.coverSlots();
    this.publishHighWater();
    if (this.onGrow !== undefined) {
      const symsEnd = this.dynsymOffset + this.nextFresh * SYM64_SIZE;
      if (symsEnd > this.symsDumped) this.symsDumped = this.onGrow(this.dynsymOffset + at * SYM64_SIZE, symsEnd);
      const chainEnd = this.chainOffset + (this.nextFresh - 1) * 4;
      if (chainEnd > this.chainDumped) this.chainDumped = this.onGrow(this.chainOffset + (at - 1) * 4, chainEnd);
    }
    return at;
  }

  /**
   * Copies every run, in bucket order, to fresh slots holding just its
   * entries (splitting classes on the way), as a linker lays .dynsym out: a lookup then touches as few
   * cache lines and pages as in a linker's file (the runs the binds left are
   * spread over about three times as many slots, with old ones between).
   * Only when the table is that spread, big enough for it to matter, and the fresh slots hold it; the old
   * runs retire as any copied run does, and later binds reuse them.
   */
  private compactRuns(): boolean {
    const runStart = this.runStart;
    if (runStart === undefined || this.bound < PACK_AT_LEAST || this.nextFresh - 1 < 2 * this.bound || this.nextFresh + this.bound > this.slotCapacity)
      return false;
    this.packing = true;
    try {
      // Owners only: a class's copy splits it, and its members are then done (their runOwner is themselves, their run new).
      const owner = this.runOwner!;
      const packedFrom = this.nextFresh;
      for (let b = 0; b < this.nbuckets; b++) if (owner[b] === b && runStart[b] !== 0 && runStart[b]! < packedFrom) this.copyRun(b, 0, -1, 0, 0, 0, 0, 0, 0);
    } finally {
      this.packing = false;
    }
    return true;
  }

  /** Blocks this thread until performance.now() reaches `until` (a quarantine's end, so at most QUARANTINE_MS); returns the time. */
  private waitFor(until: number): number {
    let now = performance.now();
    while (now < until) {
      Atomics.wait(sleeper, 0, 0, until - now);
      now = performance.now();
    }
    this.lastNow = now;
    return now;
  }

  /** The start of `cap` slots cut from a larger retired run (the rest stays free), or 0. */
  private largerRun(cap: number): number {
    for (const [len, q] of this.freeRuns) {
      if (len <= cap || q.length === 0) continue;
      const time = q.oldest();
      const start = q.shift();
      this.addFree(start + cap, len - cap, time);
      return start;
    }
    return 0;
  }

  /** Puts a retired run (or piece) among the free ones. */
  private addFree(start: number, len: number, time: number): void {
    if (start < this.floor) {
      // Under the bucket array now (or soon): never reused.
      if (start + len <= this.floor) return;
      len -= this.floor - start;
      start = this.floor;
    }
    let q = this.freeRuns.get(len);
    if (q === undefined) this.freeRuns.set(len, (q = new FifoQueue(16)));
    q.push(start, time);
  }

  /**
   * Merges every freed run with the freed runs next to it and returns the
   * start of `cap` slots cut from the first piece large enough (the rest
   * stays free), or 0. Retired runs are tombstones already, so a piece needs
   * no rewriting. Rare: only a table with no fresh slots left gets here.
   */
  private coalescedRun(cap: number): number {
    const pieces = this.takeAllFree();
    pieces.sort((x, y) => x[1] - y[1]);
    let found = 0;
    for (let i = 0; i < pieces.length; ) {
      let [time, start, len] = pieces[i]!;
      let j = i + 1;
      for (; j < pieces.length && pieces[j]![1] === start + len; j++) {
        len += pieces[j]![2];
        time = Math.max(time, pieces[j]![0]);
      }
      if (found === 0 && len >= cap) {
        found = start;
        start += cap;
        len -= cap;
      }
      if (len > 0) this.addFree(start, len, time);
      i = j;
    }
    return found;
  }

  /** Every free run, as [time, start, length], the free lists left empty. */
  private takeAllFree(): [number, number, number][] {
    const pieces: [number, number, number][] = [];
    for (const [len, q] of this.freeRuns) while (q.length > 0) pieces.push([q.oldest(), q.shift(), len]);
    this.freeRuns.clear();
    return pieces;
  }

  /** Starts a growth the bound count calls for, or finishes the one under way once its quarantine has passed. */
  private advanceGrowth(): void {
    if (this.growTarget !== 0) {
      if (this.lastNow < this.growReadyAt) return;
      this.finishGrowth(this.lastNow);
    }
    if (this.bound > this.growAt) this.startGrowth();
  }

  /**
   * The first half of a growth (see the protocol above): picks the count to
   * reach, raises the floor over the slots its buckets will cover, and copies
   * every live run there above it. A failure (no room for the copies) leaves
   * the count as it is, to be tried again with twice as many symbols bound;
   * the bind that set it off is not undone.
   */
  private startGrowth(): void {
    const n = this.nbuckets;
    const first = this.firstBuckets;
    // A multiple of n: at most a bucket a bound symbol, and covering only slots handed out already.
    const limit = Math.min(this.maxBuckets, this.bound, this.nextFresh - 1 + first);
    let target = n;
    while (2 * target <= limit) target *= 2;
    this.growAt = target < this.maxBuckets ? 2 * this.bound : Number.POSITIVE_INFINITY;
    if (target === n) return;
    const from = gnuGrownShape(first, n)[1];
    const to = gnuGrownShape(first, target)[1];
    if (to <= this.pristine) {
      // No run was ever there, so no reader either: the second half at once.
      this.growTarget = target;
      this.finishGrowth(this.lastNow);
      return;
    }
    this.floor = Math.max(this.floor, to);
    for (const [time, start, len] of this.takeAllFree()) this.addFree(start, len, time);
    try {
      for (let i = from; i < to; i++) {
        const id = this.slotId[i]!;
        if (id !== 0) this.copyRun((this.idHash[id]! >>> 0) % n, 0, -1, 0, 0, 0, 0, 0, 0);
      }
    } catch {
      // The count stays; the floor too (the slots under it are lost, which costs nothing else).
      return;
    }
    this.growTarget = target;
    this.growAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    this.lastNow = now;
    this.growReadyAt = now + QUARANTINE_MS;
    if (this.retireTimer === undefined) this.armRetireTimer(QUARANTINE_MS + 1);
  }

  /**
   * The second half: the emptied slots have waited out their quarantine, so
   * their hash words become the new buckets' words, each its class's run;
   * then ld.so's count and the header's shape are raised.
   */
  private finishGrowth(now: number): void {
    this.retireDue(now);
    const n = this.nbuckets;
    const target = this.growTarget;
    this.growTarget = 0;
    if (this.runStart !== undefined) {
      const runStart = (this.runStart = grownTo(this.runStart, target));
      const runOwner = (this.runOwner = grownTo(this.runOwner!, target));
      this.runCap = grownTo(this.runCap!, target);
      this.runUsed = grownTo(this.runUsed!, target);
      this.runLevel = grownTo(this.runLevel!, target);
      for (let c = n; c < target; c++) {
        runStart[c] = runStart[c % n]!;
        runOwner[c] = runOwner[c % n]!;
      }
    }
    const buckets = this.buckets;
    for (let c = n; c < target; c++) buckets[c] = buckets[c % n]!;
    this.nbuckets = target;
    // A store-release on aarch64: a lookup that divides by the new count sees the words above.
    this.store32(this.cachedBuckets!, 0, target);
    this.raises.push(target, performance.now());
    this.publishShape();
    this.growAt = target < this.maxBuckets ? 2 * target : Number.POSITIVE_INFINITY;
    // The classes it leaves shared are split between binds once the raise has waited out its quarantine.
    this.settleFrom = 0;
    this.settleRetries = SETTLE_RETRIES;
    if (this.retireTimer === undefined) this.armRetireTimer(QUARANTINE_MS + 1);
  }

  /** Whether bucket b owns a class's run not yet split to the present count (its copy splits it). */
  private ownsUnsplitClass(b: number): boolean {
    return this.runOwner![b] === b && this.runLevel![b] !== this.nbuckets && this.runStart![b] !== 0;
  }

  /**
   * From the retire timer, between binds: splits the classes no bind has split since the last
   * growth, SETTLE_STEP entries' worth a tick, once no lookup can still divide by an older count.
   * The runs are packed (each just its entries, as compactRuns makes them), taken from retired
   * runs or from fresh slots but the last eighth, and never by waiting out a quarantine: settling
   * is tidiness, not a reason for anything to wait. Where no room is to be had it tries again
   * once an old run has retired, twice, then leaves the rest to the binds that reach it, as
   * before. Returns when it wants to run again (Infinity: done).
   */
  private settleStep(now: number): number {
    if (this.settleFrom < 0 || this.growTarget !== 0 || this.runStart === undefined) return Number.POSITIVE_INFINITY;
    if (this.raises.length > 0) {
      const ready = this.raises.newest() + QUARANTINE_MS;
      if (now < ready) return ready + 1;
    }
    const n = this.nbuckets;
    const runUsed = this.runUsed!;
    let b = this.settleFrom;
    let copied = 0;
    let clockAt = SETTLE_CLOCK_EVERY;
    const until = performance.now() + SETTLE_BUDGET_MS;
    this.settling = true;
    this.packing = true;
    try {
      for (; b < n && copied < SETTLE_STEP; b++) {
        if (!this.ownsUnsplitClass(b)) continue;
        const used = runUsed[b]!;
        this.copyRun(b, 0, -1, 0, 0, 0, 0, 0, 0);
        copied += used;
        this.settleRetries = SETTLE_RETRIES;
        if (copied >= clockAt) {
          if (performance.now() >= until) {
            b++;
            break;
          }
          clockAt = copied + SETTLE_CLOCK_EVERY;
        }
      }
    } catch (err) {
      if (err !== settlingWouldWait && !(err instanceof DlbindError)) throw err;
      // This class again once the oldest old run has retired (the runs taken for it wait out the quarantine too).
      if (this.settleRetries-- > 0 && this.retiring.length > 0) {
        this.settleFrom = b;
        return this.retiring.oldest() + QUARANTINE_MS + 1;
      }
      this.settleFrom = -1;
      return Number.POSITIVE_INFINITY;
    } finally {
      this.settling = false;
      this.packing = false;
    }
    if (b >= n) {
      this.settleFrom = -1;
      return Number.POSITIVE_INFINITY;
    }
    this.settleFrom = b;
    return now + 1;
  }

  /**
   * Brings the bucket count to what the bound symbols call for and splits
   * every class, waiting out each growth's quarantine: then tools and other
   * processes see a table like a linker's.
   */
  private settleGrowth(): void {
    for (let round = 0; round < 64; round++) {
      if (this.growTarget !== 0) this.finishGrowth(this.waitFor(this.growReadyAt));
      else if (this.bound > this.growAt) {
        this.startGrowth();
        if (this.growTarget === 0) break;
      } else break;
    }
    // Classes split to the present count only once no lookup can still divide by an older one.
    if (this.raises.length > 0) this.waitFor(this.raises.newest() + QUARANTINE_MS);
    if (this.runOwner === undefined) return;
    try {
      if (!this.compactRuns()) for (let b = 0; b < this.nbuckets; b++) if (this.ownsUnsplitClass(b)) this.copyRun(b, 0, -1, 0, 0, 0, 0, 0, 0);
      // Every class is split now: the retire timer has nothing left to settle.
      this.settleFrom = -1;
    } catch {
      // No room to split or pack: the runs stay, as right for lookups as before.
    }
  }

  /** The header's nbuckets and symoffset for the present count, in one store: a reader never sees half of a change. */
  private publishShape(): void {
    const [nbuckets, symoffset] = gnuGrownShape(this.firstBuckets, this.nbuckets);
    this.headerShape![0] = BigInt(nbuckets) | (BigInt(symoffset) << 32n);
  }

  /** A table stuck at its load count: the slots under its buckets become tombstones, and fresh runs start above them. */
  private skipToFloor(): void {
    const bytes = this.symBytes;
    const from = this.nextFresh;
    // Only st_info: the rest of these slots' words are bucket words.
    for (let i = from; i < this.floor; i++) bytes[i * SYM64_SIZE + 4] = TOMBSTONE_INFO;
    this.nextFresh = this.floor;
    this.coverSlots();
    if (this.onGrow !== undefined) {
      this.symsDumped = this.onGrow(this.dynsymOffset + from * SYM64_SIZE, this.dynsymOffset + this.floor * SYM64_SIZE);
      this.chainDumped = this.onGrow(this.chainOffset, this.chainOffset + (this.floor - 1) * 4);
    }
  }

  /** sh_size of .dynsym follows the high-water mark, so tools read only slots ever used. */
  private publishHighWater(): void {
    const f = this.shSize;
    if (f === undefined) return;
    const bytes = this.nextFresh * SYM64_SIZE;
    // Unchanged (a clear() of a table never used): no store, so the page stays untouched.
    if (bytes === this.publishedBytes) return;
    this.publishedBytes = bytes;
    f[0] = bytes >>> 0;
    f[1] = Math.floor(bytes / 4294967296);
  }

  /** `freedAt` is when a reader could last have reached it (-Infinity: never published). */
  private giveBackString(at: number, bytes: number, freedAt: number): void {
    let q = this.freeStrings.get(bytes);
    if (q === undefined) this.freeStrings.set(bytes, (q = new FifoQueue(16)));
    q.push(at, freedAt);
    this.freeStringCount++;
    this.stringsFreed += bytes;
  }

  /**
   * Whether the oldest item of `q` has waited out the quarantine. The time of
   * the last release stands in for the clock: it is never later than now, so
   * an age measured with it is never too long, and binds read no clock.
   */
  private aged(q: FifoQueue): boolean {
    return this.lastNow - q.oldest() >= QUARANTINE_MS;
  }

  private takeString(bytes: number, name: string): number {
    const q = this.freeStrings.get(bytes);
    const exhausted = this.stringsNext + bytes > this.stringCapacity;
    if (q !== undefined && q.length > 0 && (exhausted || this.freeStringCount > QUARANTINE)) {
      // No fresh room: wait (at most the quarantine) for the oldest freed name of this length rather than reuse it early.
      if (exhausted && !this.aged(q)) this.waitFor(q.oldest() + QUARANTINE_MS);
      if (this.aged(q)) {
        // Old runs may name the string: they were unpublished before it was freed, so they retire first.
        if (this.retiring.length > 0) this.retireDue(this.lastNow);
        this.freeStringCount--;
        this.stringsFreed -= bytes;
        return q.shift();
      }
    }
    if (exhausted) {
      throw new DlbindError(
        'ESTRFULL',
        `the string table is full: '${name.length > 40 ? `${name.slice(0, 40)}…` : name}' needs ${bytes} bytes, ${this.stringsNext - this.stringsFreed} of stringTableSize ${this.stringCapacity} are in use and ${this.stringCapacity - this.stringsNext} never used (raise stringTableSize or scale at dlcreate)`,
      );
    }
    const at = this.stringsNext;
    this.stringsNext += bytes;
    this.stringsGrew(at);
    return at;
  }

  /** Strings now reach stringsNext from `at`: core dumps include them. */
  private stringsGrew(at: number): void {
    const end = this.dynstrOffset + this.stringsNext;
    if (end > this.stringsDumped && this.onGrow !== undefined) this.stringsDumped = this.onGrow(this.dynstrOffset + at, end);
  }
}

/**
 * Sets .dynsym's sh_size in a freshly written zygote to what an empty table
 * publishes (the null symbol), so that a new library's table need not store it.
 */
export function writeInitialDynsymSize(out: Uint8Array, layout: ObjectLayout): void {
  const at = shSizeOffset(out, layout, layout.dynsym, SHT_DYNSYM);
  if (at !== undefined) new DataView(out.buffer, out.byteOffset + at, 8).setBigUint64(0, BigInt(SYM64_SIZE), true);
}

/**
 * Sets a freshly written zygote's GNU header to the shape ld.so is to cache
 * at load: `loadBuckets` buckets, symoffset moved on to match (gnuGrownShape).
 * A table that finds ld.so's copy brings both down to the first count.
 */
export function writeLoadShape(out: Uint8Array, layout: ObjectLayout, loadBuckets: number): void {
  const gnu = layout.gnuHash;
  if (gnu === undefined) return;
  const [nbuckets, symoffset] = gnuGrownShape(layout.gnuBuckets, loadBuckets);
  const header = new DataView(out.buffer, out.byteOffset + gnu.offset, 8);
  header.setUint32(0, nbuckets, true);
  header.setUint32(4, symoffset, true);
}

const shapes = new WeakMap<ObjectLayout, [nbuckets: number, bloomWords: number, bloomShift: number]>();

/** The GNU table's nbuckets, bloom words and bloom shift, read from its header once per layout. */
function tableShape(mem: Uint8Array, layout: ObjectLayout, offset: number): [number, number, number] {
  let shape = shapes.get(layout);
  if (shape === undefined) {
    const header = new Uint32Array(mem.buffer, mem.byteOffset + offset, 4);
    shape = [header[0]!, header[2]!, header[3]!];
    shapes.set(layout, shape);
  }
  return shape;
}
