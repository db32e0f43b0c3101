// The zygote: an empty shared object with room reserved for everything a
// live library will hold. Only its headers and tables' headers are written;
// every reserved byte is a hole in the memfd until something is put there.
import { constants as bufferConstants } from 'node:buffer';
import { DEFAULT_PAGE_SIZE } from '../elf/builder.js';
import { gnuLiveBloomWords, gnuLiveBucketCount, gnuLiveGrowthSlots, gnuLiveLaidOutBuckets } from '../elf/hash.js';
import { utf8Length, writeString } from '../elf/strtab.js';
import { type ObjectPlan, type PreparedObject, prepareObject, writeObject } from '../elf/writer.js';
import { DlbindError } from './errors.js';
import type { LoaderArch } from './platform.js';
import { writeInitialDynsymSize, writeLoadShape } from './symtab.js';
import { unwindCapacity, writeInitialUnwindTables } from './unwind.js';

/** How much a live library can hold; fixed at dlcreate. Reserved capacity costs address space, not memory. */
export interface Capacity {
  /** Bytes of executable code. */
  text: number;
  /** Bytes of read-only data. */
  rodata: number;
  /** Bytes of writable data. */
  data: number;
  /** Symbols that can be bound at once. */
  maxSymbols: number;
  /** Bytes of symbol names (each name takes its UTF-8 length plus one). */
  stringTableSize: number;
}

/**
 * The capacity dlcreate uses for every field its options leave out: large
 * enough that a JIT need not think about it (a million symbols, 256 MiB of
 * code), because it is address space in a sparse memfd, not memory: an idle
 * library costs the same at any capacity. `scale` multiplies all of it.
 */
export const DEFAULT_CAPACITY: Readonly<Capacity> = Object.freeze({
  text: 256 << 20,
  rodata: 64 << 20,
  data: 64 << 20,
  maxSymbols: 1 << 20,
  stringTableSize: 32 << 20,
});

/** Capacity options of dlcreate: each field overrides `scale` × its default. */
export type CapacityOptions = Partial<Capacity> & {
  /** Multiplies every default capacity (0.01 for a small library, 4 for a large one); explicit fields win. */
  scale?: number;
};

/**
 * The most bytes one library's object may span: the whole object is one
 * ArrayBuffer view of its writable alias, and Node cannot make one larger
 * (buffer.constants.MAX_LENGTH, 4 GiB on Node 20; koffi aborts the process
 * rather than throw above it).
 */
export const MAX_OBJECT_BYTES = Math.min(bufferConstants.MAX_LENGTH, 2 ** 46);

const CAPACITY_KEYS = ['text', 'rodata', 'data', 'maxSymbols', 'stringTableSize'] as const;

function tooBig(what: string, detail: string): DlbindError {
  return new DlbindError(
    'ETOOBIG',
    `${what} is more than one library can map: ${detail}; a library's whole object must fit in ${MAX_OBJECT_BYTES} bytes (${MAX_OBJECT_BYTES / 2 ** 30} GiB, this Node's ArrayBuffer limit)`,
  );
}

/**
 * The capacity dlcreate's options ask for, each field checked: a positive
 * integer, no larger than the platform can map (ETOOBIG, with the limit).
 * Sections round up to whole pages.
 */
export function resolveCapacity(options: CapacityOptions, page: number): Capacity {
  if (options.scale === undefined && CAPACITY_KEYS.every((key) => options[key] === undefined)) {
    let d = resolvedDefaults.get(page);
    if (d === undefined) resolvedDefaults.set(page, (d = resolveGivenCapacity({ scale: 1 }, page)));
    return { ...d };
  }
  return resolveGivenCapacity(options, page);
}
/** The default capacity resolved, per page size: most libraries ask for nothing else. */
const resolvedDefaults = new Map<number, Capacity>();

function resolveGivenCapacity(options: CapacityOptions, page: number): Capacity {
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0)
    throw new DlbindError('EINVAL', `option scale must be a positive number, got ${String(scale)}`);
  const capacity = { ...DEFAULT_CAPACITY };
  for (const key of CAPACITY_KEYS) {
    const given = options[key];
    let v: number;
    if (given === undefined) v = Math.max(1, Math.ceil(DEFAULT_CAPACITY[key] * scale));
    else {
      if (typeof given !== 'number' || !Number.isInteger(given) || given <= 0)
        throw new DlbindError('EINVAL', `option ${key} must be a positive integer, got ${String(given)}`);
      v = given;
    }
    if (key === 'maxSymbols') {
      const bytes = dynsymSlots(v) * 24;
      if (bytes > MAX_OBJECT_BYTES || v >= 2 ** 31) {
        throw tooBig(`maxSymbols ${v}`, `its .dynsym slots alone take ${bytes} bytes (at most ${maxSymbolsThatFit()} symbols fit)`);
      }
    } else {
      if (key !== 'stringTableSize') v = Math.ceil(v / page) * page;
      if (v > MAX_OBJECT_BYTES)
        throw tooBig(`${given === undefined ? `scale ${scale} × the default ${key}` : `option ${key}`} (${v} bytes)`, `it alone exceeds the limit`);
    }
    capacity[key] = v;
  }
  return capacity;
}

function maxSymbolsThatFit(): number {
  let lo = 1;
  let hi = 2 ** 31;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dynsymSlots(mid) * 24 <= MAX_OBJECT_BYTES) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function zygotePlan(arch: LoaderArch, soname: string, capacity: Capacity, dynamicWritable: boolean): ObjectPlan {
  const page = DEFAULT_PAGE_SIZE[arch];
  return {
    machine: arch,
    soname,
    needed: [],
    // glibc fixes the GNU table's shape at load but reads its words live (see symtab.ts); DT_HASH would be ignored beside it.
    hashStyle: 'gnu',
    pageSize: page,
    sections: {
      text: { size: capacity.text, align: page },
      rodata: { size: capacity.rodata, align: page },
      // Page-aligned so that data never shares a page with .dynamic, which old glibc writes to.
      data: { size: capacity.data, align: page },
      bss: { size: 0, align: 8 },
    },
    symbols: [],
    relocations: [],
    dynamicWritable,
    staticSymbols: false,
    // The live library is patched through a mapping of this file: offsets must equal addresses.
    packFileOffsets: false,
    dynsymCapacity: dynsymSlots(capacity.maxSymbols),
    dynstrCapacity: capacity.stringTableSize,
    // Laid out for the first buckets; the header says more at load (writeLoadShape), and the table grows into them.
    gnuBuckets: gnuLiveLaidOutBuckets(capacity.maxSymbols),
    gnuBloomWords: gnuLiveBloomWords(capacity.maxSymbols),
    // Room for every function to have unwind rules (src/loader/unwind.ts fills them in place).
    ehFrameHdrCapacity: unwindCapacity(capacity.maxSymbols).ehFrameHdr,
    ehFrameCapacity: unwindCapacity(capacity.maxSymbols).ehFrame,
  };
}

/**
 * .dynsym slots for `maxSymbols`, the null symbol included. A bucket's run
 * holds at most three times its live symbols (it is copied with room for half
 * as many again), and old runs wait a while before reuse (merged with their
 * neighbours when fresh slots run out): four slots per symbol, plus the first
 * runs of every bucket, leave room for any name set short of one built to
 * collide. The bucket array grows over the hash words of the first slots,
 * which are lost to symbols (gnuGrownShape). Unused slots cost address space only.
 */
export function dynsymSlots(maxSymbols: number): number {
  return 4 * maxSymbols + 8 * gnuLiveBucketCount(maxSymbols) + gnuLiveGrowthSlots(maxSymbols) + 1;
}

const prepared = new Map<string, PreparedObject>();

/**
 * The reserved layout of a zygote. Zygotes that differ only in their soname's
 * bytes have the same layout, so it is planned once per shape, with a
 * placeholder name of the same length; `writeZygote` writes the real name over it.
 */
export function preparedZygote(arch: LoaderArch, soname: string, capacity: Capacity, dynamicWritable: boolean): PreparedObject {
  const length = utf8Length(soname);
  const last = lastPrepared;
  if (
    last !== undefined &&
    last.length === length &&
    last.arch === arch &&
    last.dynamicWritable === dynamicWritable &&
    CAPACITY_KEYS.every((key) => last.capacity[key] === capacity[key])
  )
    return last.p;
  const key = `${arch}|${capacity.text}|${capacity.rodata}|${capacity.data}|${capacity.maxSymbols}|${capacity.stringTableSize}|${dynamicWritable}|${length}`;
  let p = prepared.get(key);
  if (p === undefined) {
    p = prepareObject(zygotePlan(arch, 's'.repeat(length), capacity, dynamicWritable));
    if (p.layout.fileSize > MAX_OBJECT_BYTES) {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
      throw tooBig(
        `the capacity together (text ${mib(capacity.text)}, rodata ${mib(capacity.rodata)}, data ${mib(capacity.data)}, maxSymbols ${capacity.maxSymbols}, stringTableSize ${mib(capacity.stringTableSize)})`,
        `the object would span ${p.layout.fileSize} bytes`,
      );
    }
    if (prepared.size >= 16) prepared.delete(prepared.keys().next().value!);
    prepared.set(key, p);
    loadBuckets.set(p, gnuLiveBucketCount(capacity.maxSymbols));
  }
  lastPrepared = { arch, capacity: { ...capacity }, dynamicWritable, length, p };
  return p;
}
/** The nbuckets a zygote's header says at load: what ld.so keeps if the table cannot grow. */
const loadBuckets = new WeakMap<PreparedObject, number>();
/** The shape asked for last, for a library like the one before it (the key need not be built). */
let lastPrepared: { arch: LoaderArch; capacity: Capacity; dynamicWritable: boolean; length: number; p: PreparedObject } | undefined;

/** Writes a prepared zygote named `soname` into `out`, the zero-filled mapping of its file. */
export function writeZygote(out: Uint8Array, p: PreparedObject, soname: string): void {
  writeObject(p, out);
  writeString(out, p.layout.dynstr.offset + p.dynstr.offsetOf(p.sonameId), soname);
  writeInitialUnwindTables(out, p.layout);
  writeInitialDynsymSize(out, p.layout);
  writeLoadShape(out, p.layout, loadBuckets.get(p) ?? p.layout.gnuBuckets);
}

/** A zygote's written bytes: the pages that hold anything, as [file offset, bytes]. */
type ZygoteImage = [number, Uint8Array][];
const images = new WeakMap<PreparedObject, ZygoteImage | null>();
/** A zygote whose written pages take more than this is rewritten each time (a file system without SEEK_DATA looks all written). */
const MAX_IMAGE_BYTES = 1 << 20;

/**
 * writeZygote, with the bytes kept per prepared shape: the first library of
 * a shape is written by the writer and its written ranges found again with
 * SEEK_DATA/SEEK_HOLE (the rest of the file is holes); later ones get those
 * ranges, a few pages with their own name in, through `pwrite` (to the file,
 * not through a mapping: pages a process never touched count in no RSS).
 * Building the bytes anew cost each dlcreate more than everything else it
 * writes.
 */
export function writeZygoteInto(
  out: Uint8Array,
  p: PreparedObject,
  soname: string,
  dataRanges: () => [number, number][] | undefined,
  pwrite: (bytes: Uint8Array, position: number) => void,
): void {
  const image = images.get(p);
  if (image === undefined) {
    writeZygote(out, p, soname);
    const ranges = dataRanges();
    let total = 0;
    for (const [start, end] of ranges ?? []) total += end - start;
    images.set(p, ranges === undefined || total > MAX_IMAGE_BYTES ? null : ranges.map(([start, end]) => [start, out.slice(start, end)]));
    return;
  }
  if (image === null) {
    writeZygote(out, p, soname);
    return;
  }
  const nameAt = p.layout.dynstr.offset + p.dynstr.offsetOf(p.sonameId);
  for (const [at, bytes] of image) {
    // The name is written over the last one in the kept page itself: every name of a shape has the same length.
    if (nameAt >= at && nameAt < at + bytes.length) writeString(bytes, nameAt - at, soname);
    pwrite(bytes, at);
  }
}

/**
 * Whether the kept pages of this shape reach the end of the file (the section
 * headers come last): then their pwrites give the file its size, and no
 * ftruncate is needed first.
 */
export function imageFillsFile(p: PreparedObject): boolean {
  const image = images.get(p);
  if (image === undefined || image === null || image.length === 0) return false;
  const [at, bytes] = image[image.length - 1]!;
  return at + bytes.length === p.layout.fileSize;
}
