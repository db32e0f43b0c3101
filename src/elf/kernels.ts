// The writer's per-symbol loops as WebAssembly kernels (kernels.wat).
//
// Why: a build runs each of its loops once. In a fresh process V8 starts them in
// its interpreter and baseline tier, and a loop over 10,000 symbols has mostly
// ended before TurboFan's code for it arrives, so the first build of an object
// ran five to ten times slower than the same build once warm. WebAssembly is
// compiled before it runs (Liftoff, in well under a millisecond for this module),
// so these loops run near their optimized speed from the first symbol. A long loop
// is made in calls of at most PIECE_ITEMS items, so that its later calls run in
// TurboFan's code once V8 has made it.
//
// Each kernel copies its inputs into the module's memory and its results back
// out (native copies), so the writer's arrays stay ordinary typed arrays and the
// caller gets the same bytes. Each function here returns false (or undefined)
// where WebAssembly cannot run (node --jitless, a big-endian host), and the
// caller runs its JavaScript twin; tests/kernels.test.ts holds them to each other.
import type { PlanColumns } from './columns.js';
import { HOST_LITTLE_ENDIAN } from './bytes.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

// The few WebAssembly declarations used here (the project's lib has no DOM types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface KernelExports {
  readonly memory: WasmMemory;
  names(src: number, lens: number, n: number, dst: number, starts: number, gnu: number, sysv: number, base: number): number;
  gnuCount(hashes: number, exported: number, m: number, nbuckets: number, counts: number): void;
  gnuPrefix(counts: number, nbuckets: number): void;
  gnuScatter(hashes: number, exported: number, m: number, nbuckets: number, counts: number, order: number, sorted: number): void;
  fillGnu(
    hashes: number,
    from: number,
    to: number,
    count: number,
    first: number,
    bloom: number,
    bloomWords: number,
    buckets: number,
    nbuckets: number,
    chain: number,
  ): void;
  chainSysv(sysv: number, order: number, m: number, first: number, buckets: number, nbucket: number, chains: number): void;
  symbolEntries(
    table: number,
    order: number,
    m: number,
    nameOffsets: number,
    nameBase: number,
    section: number,
    offset: number,
    size: number,
    info: number,
    other: number,
    shndx: number,
    addr: number,
  ): void;
  nulCount(src: number, from: number, to: number): number;
  scanNames(src: number, from: number, to: number, starts: number, gnu: number, sysv: number): number;
  firstDuplicate(bytes: number, starts: number, gnu: number, from: number, to: number, table: number, mask: number, twin: number, limit: number): number;
  stringAddrs(bytes: number, bases: number, src: number, begin: number, n: number, addr: number): void;
  identity(order: number, n: number): void;
  sortKeys(order: number, from: number, to: number, depth: number, addr: number, length: number, keys: number): number;
  sortedIds(order: number, from: number, to: number, keys: number): void;
  keyRuns(keys: number, from: number, to: number, runs: number): number;
  shareSuffixes(order: number, n: number, addr: number, length: number, offsets: number): number;
  gatherStrings(addr: number, length: number, offsets: number, n: number, out: number): void;
  splitExported(info: number, n: number, split: number): number;
  numberInOrder(order: number, m: number, index: number, n: number, first: number): void;
  markUsed(codes: number, n: number, used: number): void;
  firstOutside(codes: number, n: number, offsets: number, sizes: number, sectionSizes: number): number;
  columnStrings(order: number, m: number, start: number, source: number, src: number, begin: number, length: number): void;
}

const PAGE = 65536;
/** Memory kept between builds: an instance that grew past it is dropped once the current job ends, so a large build's memory goes back with it. */
const KEPT_BYTES = 1024 * 1024;
/**
 * The most one call takes. Past it the JavaScript twin runs, so that a build's kernel memory
 * stays below this (a million symbols take about 60 MB at most, in the symbol entries' call;
 * their build held 51 MiB more RSS at its peak than with the twins, and ran 1.3 times faster).
 */
const MAX_CALL_BYTES = 128 * 1024 * 1024;
let dropScheduled = false;
/**
 * Fewer items than this run the twin: they take microseconds either way, and a process that
 * only creates live libraries (whose zygotes have no symbols) never compiles the module.
 */
let minItems = 256;
/**
 * The most items one kernel call takes: a longer loop is made in calls of this many. V8 runs a
 * WebAssembly function in Liftoff's code first and compiles it with TurboFan in the background
 * once it has run hot, but a call keeps the code it started in (there is no on-stack replacement
 * for WebAssembly). So one call over a million names, the first in a process, ran all of it in
 * Liftoff's code: the names' scan took 47 - 55 ms in it, and 19 - 26 ms in a second call. Made in
 * calls of 65,536 names the first scan took 26 - 38 ms (the rest is the first touch of its
 * output's pages).
 */
const PIECE_ITEMS = 65536;
let pieceItems = PIECE_ITEMS;

/** Calls `run(from, length)` over [0, n) in pieces of at most pieceItems, in order; stops when `run` returns true. */
function inPieces(n: number, run: (from: number, length: number) => unknown): void {
  for (let from = 0; from < n; from += pieceItems) if (run(from, Math.min(pieceItems, n - from)) === true) return;
}

let compiled: object | null | undefined;
let current: KernelExports | undefined;
/** Whether the kernels are turned off (tests compare them with their twins this way). */
let disabled = false;

/**
 * Turns the kernels off or on (the writer then runs only its JavaScript loops), and sets the
 * fewest items a kernel takes (default 256) and the most one call takes (default 65,536); for
 * tests and measurements.
 */
export function setKernelsEnabled(enabled: boolean, fewestItems = 256, itemsPerCall = PIECE_ITEMS): void {
  disabled = !enabled;
  minItems = fewestItems;
  pieceItems = Math.max(1, itemsPerCall);
}

/** Bytes of kernel memory held now (0 when no instance is kept); for tests. */
export function kernelMemoryBytes(): number {
  return current?.memory.buffer.byteLength ?? 0;
}

/** Whether the kernels can run here. */
export function kernelsAvailable(): boolean {
  return instance(0, minItems) !== undefined;
}

/** The instance, with memory for `bytes`, for a call over `items` items; undefined when the twin is to run. */
function instance(bytes: number, items: number): KernelExports | undefined {
  if (disabled || bytes > MAX_CALL_BYTES || items < minItems) return undefined;
  if (compiled === undefined) compiled = compile();
  if (compiled === null) return undefined;
  try {
    current ??= new wasm!.Instance(compiled, {}).exports as KernelExports;
  } catch {
    // V8 reserves several GiB of address space for a memory: under a limit (ulimit -v) it
    // cannot, and the twins do the work from then on.
    compiled = null;
    return undefined;
  }
  const memory = current.memory;
  const have = memory.buffer.byteLength;
  if (bytes > have) {
    try {
      memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch {
      // Out of memory for this call: its twin runs, and a smaller call may still fit.
      return undefined;
    }
  }
  return current;
}

function compile(): object | null {
  // WebAssembly stores little-endian; the writer's word views are the host's.
  if (wasm === undefined || !HOST_LITTLE_ENDIAN) return null;
  try {
    return new wasm.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  } catch {
    // --jitless and other engines without a WebAssembly compiler.
    return null;
  }
}

/** Gives a grown instance's memory back once the current job is done (the build's other calls reuse it). */
function release(k: KernelExports): void {
  if (k.memory.buffer.byteLength <= KEPT_BYTES || dropScheduled) return;
  dropScheduled = true;
  queueMicrotask(() => {
    dropScheduled = false;
    if (current === k) current = undefined;
  });
}

/**
 * Whether a table of `words` is too large for its `entries` to be copied back whole. The copy
 * stores every word, where the twin stores only the words its entries reach; the output can be
 * a live library's file mapping sized for its capacity, whose untouched pages must stay
 * unallocated (an idle library holds a few pages).
 */
function sparse(words: number, entries: number): boolean {
  return words > 4 * entries + 64;
}

/** Byte offsets for a call's arrays in the module's memory, each 8-aligned. */
class Arena {
  top = 0;
  take(bytes: number): number {
    const at = this.top;
    this.top += (bytes + 7) & ~7;
    return at;
  }
}

/**
 * Names `count` names joined in `joined` (name k is `lengths[k]` long) into a
 * name column: bytes and NULs from `bytes[used]`, starts, GNU and SysV hashes
 * from entry `index`. Returns -2 when it did nothing (no kernels, or a name is
 * not ASCII), -1 when all were written, or the first name holding a NUL (the
 * ones before it are written).
 */
export function kernelNames(
  joined: string,
  lengths: Uint32Array,
  count: number,
  bytes: Uint8Array,
  used: number,
  start: Uint32Array,
  gnu: Uint32Array,
  sysv: Uint32Array,
  index: number,
): number {
  const a = new Arena();
  const src = a.take(joined.length);
  const lens = a.take(count * 4);
  const dst = a.take(joined.length + count);
  const starts = a.take(count * 4);
  const gnuAt = a.take(count * 4);
  const sysvAt = a.take(count * 4);
  const k = instance(a.top, count);
  if (k === undefined) return -2;
  const buffer = k.memory.buffer;
  // Every unit read into as many bytes: all ASCII (a longer encoding fills the room before the end).
  const { read, written } = encoder.encodeInto(joined, new Uint8Array(buffer, src, joined.length));
  if (read !== joined.length || written !== joined.length) return -2;
  new Uint32Array(buffer, lens, count).set(lengths.subarray(0, count));
  const bad = k.names(src, lens, count, dst, starts, gnuAt, sysvAt, used);
  const done = bad < 0 ? count : bad;
  const doneBytes = done === count ? joined.length + count : new Uint32Array(buffer, starts + done * 4, 1)[0]! - used;
  bytes.set(new Uint8Array(buffer, dst, doneBytes), used);
  start.set(new Uint32Array(buffer, starts, done), index);
  gnu.set(new Uint32Array(buffer, gnuAt, done), index);
  sysv.set(new Uint32Array(buffer, sysvAt, done), index);
  release(k);
  return bad;
}

const encoder = new TextEncoder();

/** Counting sort of `exported` by GNU bucket into `order` and `sortedHashes` (see gnuBucketOrder); false when it did nothing. */
export function kernelGnuOrder(hashes: Uint32Array, exported: Int32Array, nbuckets: number, order: Int32Array, sortedHashes: Uint32Array): boolean {
  const m = exported.length;
  const a = new Arena();
  const hashesAt = a.take(hashes.length * 4);
  const exportedAt = a.take(m * 4);
  const counts = a.take((nbuckets + 1) * 4);
  const orderAt = a.take(m * 4);
  const sortedAt = a.take(m * 4);
  const k = instance(a.top, m);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Uint32Array(buffer, hashesAt, hashes.length).set(hashes);
  new Int32Array(buffer, exportedAt, m).set(exported);
  new Uint32Array(buffer, counts, nbuckets + 1).fill(0);
  inPieces(m, (from, length) => k.gnuCount(hashesAt, exportedAt + from * 4, length, nbuckets, counts));
  k.gnuPrefix(counts, nbuckets);
  inPieces(m, (from, length) => k.gnuScatter(hashesAt, exportedAt + from * 4, length, nbuckets, counts, orderAt, sortedAt));
  order.set(new Int32Array(buffer, orderAt, m));
  sortedHashes.set(new Uint32Array(buffer, sortedAt, m));
  release(k);
  return true;
}

/** The GNU table's bloom words, buckets and chain over zeroed arrays (see fillGnuHash); false when it did nothing. */
export function kernelFillGnu(hashes: Uint32Array, first: number, bloom: Uint32Array, bloomWords: number, buckets: Uint32Array, chain: Uint32Array): boolean {
  const count = hashes.length;
  if (sparse(bloomWords * 2 + buckets.length, count)) return false;
  const a = new Arena();
  const hashesAt = a.take(count * 4);
  const bloomAt = a.take(bloomWords * 8);
  const bucketsAt = a.take(buckets.length * 4);
  const chainAt = a.take(count * 4);
  const k = instance(a.top, count);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Uint32Array(buffer, hashesAt, count).set(hashes);
  const bloomView = new Uint32Array(buffer, bloomAt, bloomWords * 2);
  const bucketsView = new Uint32Array(buffer, bucketsAt, buckets.length);
  bloomView.fill(0);
  bucketsView.fill(0);
  inPieces(count, (from, length) => k.fillGnu(hashesAt, from, from + length, count, first, bloomAt, bloomWords, bucketsAt, buckets.length, chainAt));
  bloom.set(bloomView);
  buckets.set(bucketsView);
  chain.set(new Uint32Array(buffer, chainAt, count));
  release(k);
  return true;
}

/** SysV chains of `order`'s symbols from `first` on (see chainSysv); `buckets` is read and updated. False when it did nothing. */
export function kernelChainSysv(sysv: Uint32Array, order: Int32Array, first: number, buckets: Uint32Array, chains: Uint32Array): boolean {
  const m = order.length;
  if (sparse(buckets.length, first + m)) return false;
  const a = new Arena();
  const sysvAt = a.take(sysv.length * 4);
  const orderAt = a.take(m * 4);
  const bucketsAt = a.take(buckets.length * 4);
  const chainsAt = a.take((first + m) * 4);
  const k = instance(a.top, m);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Uint32Array(buffer, sysvAt, sysv.length).set(sysv);
  new Int32Array(buffer, orderAt, m).set(order);
  const bucketsView = new Uint32Array(buffer, bucketsAt, buckets.length);
  bucketsView.set(buckets);
  inPieces(m, (from, length) => k.chainSysv(sysvAt, orderAt + from * 4, length, first + from, bucketsAt, buckets.length, chainsAt));
  buckets.set(bucketsView);
  chains.set(new Uint32Array(buffer, chainsAt + first * 4, m), first);
  release(k);
  return true;
}

/** The symbol columns writeSymbolEntries reads. */
export type EntryColumns = Pick<PlanColumns, 'count' | 'section' | 'offset' | 'size' | 'info' | 'other'>;

/** Elf64_Sym entries of `order` from word `firstWord` of `table` (see writeSymbolEntries); false when it did nothing. */
export function kernelSymbolEntries(
  table: Uint32Array,
  firstWord: number,
  order: Int32Array,
  nameOffsets: Uint32Array,
  firstName: number,
  nameBase: number,
  cols: EntryColumns,
  sectionShndx: readonly number[],
  sectionAddr: readonly number[],
): boolean {
  const m = order.length;
  const n = cols.count;
  const codes = sectionShndx.length;
  const a = new Arena();
  const tableAt = a.take(m * 24);
  const orderAt = a.take(m * 4);
  const namesAt = a.take(m * 4);
  const sectionAt = a.take(n);
  const offsetAt = a.take(n * 8);
  const sizeAt = a.take(n * 8);
  const infoAt = a.take(n);
  const otherAt = a.take(n);
  const shndxAt = a.take(codes * 4);
  const addrAt = a.take(codes * 8);
  const k = instance(a.top, m);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Int32Array(buffer, orderAt, m).set(order);
  new Uint32Array(buffer, namesAt, m).set(nameOffsets.subarray(firstName, firstName + m));
  new Uint8Array(buffer, sectionAt, n).set(cols.section.subarray(0, n));
  new Float64Array(buffer, offsetAt, n).set(cols.offset.subarray(0, n));
  new Float64Array(buffer, sizeAt, n).set(cols.size.subarray(0, n));
  new Uint8Array(buffer, infoAt, n).set(cols.info.subarray(0, n));
  new Uint8Array(buffer, otherAt, n).set(cols.other.subarray(0, n));
  const shndx = new Uint32Array(buffer, shndxAt, codes);
  const addr = new Float64Array(buffer, addrAt, codes);
  // As the JavaScript twin stores them: a section with no index or address gives 0.
  for (let c = 0; c < codes; c++) {
    shndx[c] = sectionShndx[c] ?? 0;
    addr[c] = sectionAddr[c] ?? Number.NaN;
  }
  inPieces(m, (from, length) =>
    k.symbolEntries(
      tableAt + from * 24,
      orderAt + from * 4,
      length,
      namesAt + from * 4,
      nameBase,
      sectionAt,
      offsetAt,
      sizeAt,
      infoAt,
      otherAt,
      shndxAt,
      addrAt,
    ),
  );

  table.set(new Uint32Array(buffer, tableAt, m * 6), firstWord);
  release(k);
  return true;
}

/**
 * Starts and hashes of the NUL-terminated names filling `bytes` (its last byte a NUL), in one
 * pass; null when a name is empty (the caller's own loop then finds and names it), undefined
 * when it did nothing.
 */
export function kernelScanNames(bytes: Uint8Array): { count: number; start: Uint32Array; gnu: Uint32Array; sysv: Uint32Array } | null | undefined {
  const used = bytes.length;
  // Every name takes at least two bytes, its NUL included.
  const most = used >>> 1;
  const a = new Arena();
  const srcAt = a.take(used);
  const first = instance(a.top, most);
  if (first === undefined) return undefined;
  new Uint8Array(first.memory.buffer, srcAt, used).set(bytes);
  // In calls of about pieceItems names of 16 bytes.
  const pieceBytes = pieceItems * 16;
  // The names counted first (a NUL ends each), so that the module's memory grows by what they take.
  // Room for the most names the bytes could hold (one a byte) took 6 bytes for each of theirs, in a
  // memory that every later call of the build kept (98 MB for a million names) and that V8 counts
  // as external memory, whose growth sets off full collections of the caller's heap.
  let names = 0;
  for (let at = 0; at < used; at += pieceBytes) names += first.nulCount(srcAt, at, Math.min(used, at + pieceBytes));
  const startsAt = a.take((names + 1) * 4);
  const gnuAt = a.take(names * 4);
  const sysvAt = a.take(names * 4);
  const k = instance(a.top, most);
  if (k === undefined) return undefined;
  const buffer = k.memory.buffer;
  let count = 0;
  let from = 0;
  do {
    const to = from + pieceBytes >= used ? used : bytes.indexOf(0, from + pieceBytes - 1) + 1;
    const scanned = k.scanNames(srcAt, from, to, startsAt + count * 4, gnuAt + count * 4, sysvAt + count * 4);
    if (scanned < 0) {
      count = -1;
      break;
    }
    count += scanned;
    from = to;
  } while (from < used);
  // The scan finds as many names as there are NULs (else the twin decides).
  if (count >= 0 && count !== names) return undefined;
  const result =
    count < 0
      ? null
      : {
          count,
          start: new Uint32Array(buffer, startsAt, count + 1).slice(),
          gnu: new Uint32Array(buffer, gnuAt, count).slice(),
          sysv: new Uint32Array(buffer, sysvAt, count).slice(),
        };
  release(k);
  return result;
}

/**
 * The first name equal to an earlier one as [index, earlier index], null when there is none,
 * 'crowded' when a probe passed `probeLimit` slots, undefined when it did nothing (see findDuplicateName).
 */
export function kernelFirstDuplicate(
  bytes: Uint8Array,
  start: Uint32Array,
  gnu: Uint32Array,
  n: number,
  size: number,
  probeLimit: number,
): [number, number] | null | 'crowded' | undefined {
  const used = start[n]!;
  const a = new Arena();
  const bytesAt = a.take(used);
  const startsAt = a.take((n + 1) * 4);
  const gnuAt = a.take(n * 4);
  const tableAt = a.take(size * 4);
  const twinAt = a.take(4);
  const k = instance(a.top, n);
  if (k === undefined) return undefined;
  const buffer = k.memory.buffer;
  new Uint8Array(buffer, bytesAt, used).set(bytes.subarray(0, used));
  new Uint32Array(buffer, startsAt, n + 1).set(start.subarray(0, n + 1));
  new Uint32Array(buffer, gnuAt, n).set(gnu.subarray(0, n));
  new Int32Array(buffer, tableAt, size).fill(-1);
  let i = -1;
  inPieces(n, (from, length) => {
    i = k.firstDuplicate(bytesAt, startsAt, gnuAt, from, from + length, tableAt, size - 1, twinAt, probeLimit);
    return i !== -1;
  });
  const twin = new Int32Array(buffer, twinAt, 1)[0]!;
  release(k);
  return i === -2 ? 'crowded' : i < 0 ? null : [i, twin];
}

/** A string table's strings as StringTableBuilder keeps them: string i is `length[i]` bytes at `begin[i]` of `sources[src[i]]`. */
export interface StringColumns {
  /** How many strings. */
  readonly n: number;
  /** The byte sources. */
  readonly sources: readonly Uint8Array[];
  /** How many bytes of each source strings lie in. */
  readonly sourceUsed: readonly number[];
  /** Each string's source. */
  readonly src: Uint16Array;
  /** Each string's first byte in its source. */
  readonly begin: Uint32Array;
  /** Each string's length in bytes. */
  readonly length: Uint32Array;
}

/** Room taken for a string table's strings: `load` copies them in and resolves each one's address to `addrAt`. */
interface StringRoom {
  readonly lengthAt: number;
  readonly addrAt: number;
  load(k: KernelExports): void;
}

function stringRoom(a: Arena, s: StringColumns): StringRoom {
  let total = 0;
  for (const used of s.sourceUsed) total += used;
  const bytesAt = a.take(total);
  const basesAt = a.take(s.sources.length * 4);
  const srcAt = a.take(s.n * 2);
  const beginAt = a.take(s.n * 4);
  const lengthAt = a.take(s.n * 4);
  const addrAt = a.take(s.n * 4);
  const load = (k: KernelExports): void => {
    const buffer = k.memory.buffer;
    const bases = new Uint32Array(buffer, basesAt, s.sources.length);
    let at = 0;
    for (let j = 0; j < s.sources.length; j++) {
      const used = s.sourceUsed[j]!;
      new Uint8Array(buffer, bytesAt + at, used).set(s.sources[j]!.subarray(0, used));
      bases[j] = at;
      at += used;
    }
    new Uint16Array(buffer, srcAt, s.n).set(s.src.subarray(0, s.n));
    new Uint32Array(buffer, beginAt, s.n).set(s.begin.subarray(0, s.n));
    new Uint32Array(buffer, lengthAt, s.n).set(s.length.subarray(0, s.n));
    inPieces(s.n, (from, length) => k.stringAddrs(bytesAt, basesAt, srcAt + from * 2, beginAt + from * 4, length, addrAt + from * 4));
  };
  return { lengthAt, addrAt, load };
}

/**
 * Offsets of a string table whose suffixes are shared (see StringTableBuilder.finish): the ids
 * sorted by their reversed bytes, then placed so that a string ending the one before shares its
 * bytes. Returns the table's size, or -1 when it did nothing.
 */
export function kernelShareSuffixes(s: StringColumns, offsets: Uint32Array): number {
  const n = s.n;
  const a = new Arena();
  const { lengthAt, addrAt, load } = stringRoom(a, s);
  const orderAt = a.take(n * 4);
  const keysAt = a.take(n * 8);
  const runsAt = a.take((Math.floor(n / 2) + 1) * 8);
  const offsetsAt = a.take(n * 4);
  const k = instance(a.top, n);
  if (k === undefined) return -1;
  load(k);
  const buffer = k.memory.buffer;
  k.identity(orderAt, n);
  if (n >= 2) {
    const keys = new BigUint64Array(buffer, keysAt, n);
    const runs = new Uint32Array(buffer, runsAt, (Math.floor(n / 2) + 1) * 2);
    // Ranges still to sort, with the depth (bytes from the end) they are sorted on.
    const stack: number[] = [0, n, 0];
    while (stack.length > 0) {
      const depth = stack.pop()!;
      const to = stack.pop()!;
      const from = stack.pop()!;
      const longer = k.sortKeys(orderAt, from, to, depth, addrAt, lengthAt, keysAt);
      keys.subarray(from, to).sort();
      k.sortedIds(orderAt, from, to, keysAt);
      if (longer === 0) continue;
      const count = k.keyRuns(keysAt, from, to, runsAt);
      for (let r = 0; r < count; r++) stack.push(runs[2 * r]!, runs[2 * r + 1]!, depth + 5);
    }
  }
  // The empty string's offset stays 0, as in a fresh array.
  new Uint32Array(buffer, offsetsAt, n).fill(0);
  const size = k.shareSuffixes(orderAt, n, addrAt, lengthAt, offsetsAt);
  offsets.set(new Uint32Array(buffer, offsetsAt, n));
  release(k);
  return size;
}

/** Writes a finished table's strings into `out` at `at` (zeros there; see StringTableBuilder.write); false when it did nothing. */
export function kernelWriteStrings(s: StringColumns, offsets: Uint32Array, size: number, out: Uint8Array, at: number): boolean {
  const a = new Arena();
  const { lengthAt, addrAt, load } = stringRoom(a, s);
  const offsetsAt = a.take(s.n * 4);
  const tableAt = a.take(size);
  const k = instance(a.top, s.n);
  if (k === undefined) return false;
  load(k);
  const buffer = k.memory.buffer;
  new Uint32Array(buffer, offsetsAt, s.n).set(offsets.subarray(0, s.n));
  const table = new Uint8Array(buffer, tableAt, size);
  table.fill(0);
  inPieces(s.n, (from, length) => k.gatherStrings(addrAt + from * 4, lengthAt + from * 4, offsetsAt + from * 4, length, tableAt));
  // Byte 0 is the empty string's NUL, already there (and, for .strtab, .dynstr's last byte).
  out.set(table.subarray(1), at + 1);
  release(k);
  return true;
}

/** Exported symbols' indexes to the front of `split`, locals' to the back (see splitExported); how many are exported, or -1 when it did nothing. */
export function kernelSplitExported(info: Uint8Array, n: number, split: Int32Array): number {
  const a = new Arena();
  const infoAt = a.take(n);
  const splitAt = a.take(n * 4);
  const k = instance(a.top, n);
  if (k === undefined) return -1;
  const buffer = k.memory.buffer;
  new Uint8Array(buffer, infoAt, n).set(info.subarray(0, n));
  const exported = k.splitExported(infoAt, n, splitAt);
  split.set(new Int32Array(buffer, splitAt, n));
  release(k);
  return exported;
}

/** `index` all -1 but for `order`'s symbols, numbered from `first` (see numberInOrder); false when it did nothing. */
export function kernelNumberInOrder(order: Int32Array, index: Int32Array, first: number): boolean {
  const m = order.length;
  const n = index.length;
  const a = new Arena();
  const orderAt = a.take(m * 4);
  const indexAt = a.take(n * 4);
  const k = instance(a.top, n);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Int32Array(buffer, orderAt, m).set(order);
  k.numberInOrder(orderAt, m, indexAt, n, first);
  index.set(new Int32Array(buffer, indexAt, n));
  release(k);
  return true;
}

/** Marks in `used` each section code of the first `n` symbols (see markUsed); false when it did nothing. */
export function kernelMarkUsed(codes: Uint8Array, n: number, used: Uint8Array): boolean {
  const a = new Arena();
  const codesAt = a.take(n);
  const usedAt = a.take(256);
  const k = instance(a.top, n);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Uint8Array(buffer, codesAt, n).set(codes.subarray(0, n));
  const marks = new Uint8Array(buffer, usedAt, 256);
  marks.fill(0);
  k.markUsed(codesAt, n, usedAt);
  for (let c = 0; c < used.length; c++) if (marks[c] === 1) used[c] = 1;
  release(k);
  return true;
}

/** The first symbol whose bytes lie outside its section, -1 when none does, or -2 when it did nothing (see firstOutside). */
export function kernelFirstOutside(codes: Uint8Array, n: number, offsets: Float64Array, sizes: Float64Array, sectionSizes: readonly number[]): number {
  const a = new Arena();
  const codesAt = a.take(n);
  const offsetsAt = a.take(n * 8);
  const sizesAt = a.take(n * 8);
  const sectionsAt = a.take(256 * 8);
  const k = instance(a.top, n);
  if (k === undefined) return -2;
  const buffer = k.memory.buffer;
  new Uint8Array(buffer, codesAt, n).set(codes.subarray(0, n));
  new Float64Array(buffer, offsetsAt, n).set(offsets.subarray(0, n));
  new Float64Array(buffer, sizesAt, n).set(sizes.subarray(0, n));
  // A code with no section compares false, as undefined does in the twin.
  const sections = new Float64Array(buffer, sectionsAt, 256);
  sections.fill(Number.NaN);
  for (let c = 0; c < sectionSizes.length && c < 256; c++) sections[c] = sectionSizes[c]!;
  const i = k.firstOutside(codesAt, n, offsetsAt, sizesAt, sectionsAt);
  release(k);
  return i;
}

/** The src, begin and length of strings `first`, `first + 1`, ...: names `order[k]` of a column whose bytes are source `source` (see StringTableBuilder.addColumn); false when it did nothing. */
export function kernelColumnStrings(
  order: Int32Array,
  start: Uint32Array,
  count: number,
  source: number,
  first: number,
  src: Uint16Array,
  begin: Uint32Array,
  length: Uint32Array,
): boolean {
  const m = order.length;
  const a = new Arena();
  const orderAt = a.take(m * 4);
  const startAt = a.take((count + 1) * 4);
  const srcAt = a.take(m * 2);
  const beginAt = a.take(m * 4);
  const lengthAt = a.take(m * 4);
  const k = instance(a.top, m);
  if (k === undefined) return false;
  const buffer = k.memory.buffer;
  new Int32Array(buffer, orderAt, m).set(order);
  new Uint32Array(buffer, startAt, count + 1).set(start.subarray(0, count + 1));
  inPieces(m, (from, length) => k.columnStrings(orderAt + from * 4, length, startAt, source, srcAt + from * 2, beginAt + from * 4, lengthAt + from * 4));
  src.set(new Uint16Array(buffer, srcAt, m), first);
  begin.set(new Uint32Array(buffer, beginAt, m), first);
  length.set(new Uint32Array(buffer, lengthAt, m), first);
  release(k);
  return true;
}
