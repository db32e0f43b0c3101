// The zygote: an empty shared object with room reserved for everything a
// live library will hold. Only its headers and tables' headers are written;
// every reserved byte is a hole in the memfd until something is put there.
import { DEFAULT_PAGE_SIZE } from '../elf/builder.js';
import { gnuLiveBloomWords, gnuLiveBucketCount } from '../elf/hash.js';
import { utf8Length, writeString } from '../elf/strtab.js';
import { type ObjectPlan, type PreparedObject, prepareObject, writeObject } from '../elf/writer.js';
import type { LoaderArch } from './platform.js';
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

/** The capacity dlcreate uses for every field its options leave out. */
export const DEFAULT_CAPACITY: Readonly<Capacity> = Object.freeze({
  text: 1 << 20,
  rodata: 1 << 20,
  data: 1 << 20,
  maxSymbols: 16_384,
  stringTableSize: 1 << 19,
});

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
    dynsymCapacity: dynsymSlots(capacity.maxSymbols),
    dynstrCapacity: capacity.stringTableSize,
    gnuBuckets: gnuLiveBucketCount(capacity.maxSymbols),
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
 * collide. Unused slots cost address space only.
 */
export function dynsymSlots(maxSymbols: number): number {
  return 4 * maxSymbols + 8 * gnuLiveBucketCount(maxSymbols) + 1;
}

const prepared = new Map<string, PreparedObject>();

/**
 * The reserved layout of a zygote. Zygotes that differ only in their soname's
 * bytes have the same layout, so it is planned once per shape, with a
 * placeholder name of the same length; `writeZygote` writes the real name over it.
 */
export function preparedZygote(arch: LoaderArch, soname: string, capacity: Capacity, dynamicWritable: boolean): PreparedObject {
  const length = utf8Length(soname);
  const key = `${arch}|${capacity.text}|${capacity.rodata}|${capacity.data}|${capacity.maxSymbols}|${capacity.stringTableSize}|${dynamicWritable}|${length}`;
  let p = prepared.get(key);
  if (p === undefined) {
    p = prepareObject(zygotePlan(arch, 's'.repeat(length), capacity, dynamicWritable));
    if (prepared.size >= 16) prepared.delete(prepared.keys().next().value!);
    prepared.set(key, p);
  }
  return p;
}

/** Writes a prepared zygote named `soname` into `out`, the zero-filled mapping of its file. */
export function writeZygote(out: Uint8Array, p: PreparedObject, soname: string): void {
  writeObject(p, out);
  writeString(out, p.layout.dynstr.offset + p.dynstr.offsetOf(p.sonameId), soname);
  writeInitialUnwindTables(out, p.layout);
}
