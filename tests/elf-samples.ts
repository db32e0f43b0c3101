// Inputs for the reader tests: system libraries, shared objects built by gcc, readelf's view of
// them, memory images laid out as the loader maps them, and a tiny hand-made ELF to break.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileC, mustRun, tempDir } from './helpers/tools.js';
import { ByteWriter } from '../src/elf/bytes.js';
import { elfHash, gnuHash } from '../src/elf/hash.js';
import {
  DT_GNU_HASH,
  DT_HASH,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  EHDR64_SIZE,
  ELF64_ST_INFO,
  EM_X86_64,
  ET_DYN,
  PHDR64_SIZE,
  PT_DYNAMIC,
  PT_LOAD,
  STB_GLOBAL,
  STT_FUNC,
  SYM64_SIZE,
} from '../src/elf/constants.js';
import type { ElfFile } from '../src/elf/reader.js';

/** Where the samples are built; removed when the process exits. */
export const sampleDir = tempDir('dlbind-elf-');

/** The path of a system library, as the dynamic linker's cache names it. */
export function systemLibrary(soname: string): string {
  const cache = mustRun('ldconfig', ['-p']).stdout;
  for (const line of cache.split('\n')) {
    const m = /^\s*(\S+) \((.*)\) => (\S+)$/.exec(line);
    if (m && m[1] === soname && m[2]!.includes('x86-64')) return m[3]!;
  }
  return `/lib/x86_64-linux-gnu/${soname}`;
}

/** A C shared object with functions, data, a weak, a hidden, a protected and a TLS symbol, and `extra` generated functions. */
export const SAMPLE_C = (extra: number): string => `
#include <stdio.h>
int counter = 7;
const char greeting[] = "hello";
__thread int tls_value;
int add(int a, int b) { return a + b; }
__attribute__((weak)) int weak_fn(void) { return 1; }
__attribute__((visibility("hidden"))) int hidden_fn(void) { return 2; }
__attribute__((visibility("protected"))) int protected_fn(void) { return 3; }
static int local_fn(void) { return counter; }
int call_local(void) { return local_fn() + printf("%s", greeting); }
${Array.from({ length: extra }, (_, i) => `int generated_${i}(int x) { return x * ${i + 1}; }`).join('\n')}
`;

/** Compiles `source` into a shared object with gcc; returns its path. */
export function buildSharedObject(name: string, source: string, flags: string[] = []): string {
  return compileC(sampleDir, name, source, ['-shared', '-fPIC', ...flags], join(sampleDir, `${name}.so`));
}

export interface ReadelfSymbol {
  index: number;
  value: bigint;
  size: bigint;
  type: string;
  bind: string;
  vis: string;
  ndx: string;
  /** Without readelf's @VERSION / @@VERSION suffix. */
  name: string;
  /** '@@' (default version), '@' (hidden or needed version) or '' (none). */
  version: '' | '@' | '@@';
}

export function readelf(args: string[], path: string): string {
  return mustRun('readelf', ['-W', ...args, path]).stdout;
}

export function readelfDynSyms(path: string): ReadelfSymbol[] {
  const out: ReadelfSymbol[] = [];
  for (const line of readelf(['--dyn-syms'], path).split('\n')) {
    const m = /^\s*(\d+): ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(\S*)/.exec(line);
    if (!m) continue;
    const full = m[8]!;
    const at = full.indexOf('@');
    out.push({
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: BigInt(m[3]!),
      type: m[4]!,
      bind: m[5]!,
      vis: m[6]!,
      ndx: m[7]!,
      name: at < 0 ? full : full.slice(0, at),
      version: at < 0 ? '' : full.startsWith('@@', at) ? '@@' : '@',
    });
  }
  return out;
}

/** The lowest PT_LOAD's page-aligned vaddr: where a memory image starts. */
export function imageBase(elf: ElfFile): bigint {
  return elf.segments
    .filter((p) => p.p_type === PT_LOAD)
    .reduce((b, p) => {
      const start = p.p_vaddr & ~(p.p_align - 1n);
      return start < b ? start : b;
    }, 2n ** 64n);
}

/** Lays the PT_LOAD segments out as the loader maps them: byte 0 is imageBase(). */
export function memoryImage(file: Uint8Array, elf: ElfFile): Uint8Array {
  const loads = elf.segments.filter((p) => p.p_type === PT_LOAD);
  const base = imageBase(elf);
  // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.max cannot take
  const end = loads.reduce((e, p) => (p.p_vaddr + p.p_memsz > e ? p.p_vaddr + p.p_memsz : e), 0n);
  const image = new Uint8Array(Number(end - base));
  for (const p of loads) image.set(file.subarray(Number(p.p_offset), Number(p.p_offset + p.p_filesz)), Number(p.p_vaddr - base));
  return image;
}

export interface Handmade {
  bytes: Uint8Array;
  /** Input offsets of the parts, so that tests can break them. */
  at: { dynamic: number; hash: number; gnuHash: number; dynsym: number; dynstr: number };
}

/**
 * A minimal ET_DYN: one PT_LOAD over the whole file at vaddr 0, PT_DYNAMIC, DT_HASH (nbucket
 * buckets of `hashWord` bytes), .dynsym, .dynstr and, at the end, DT_GNU_HASH (one bucket, a bloom word with every
 * bit set); no section headers.
 * Symbol i+1 is names[i], a global function.
 */
export function handmadeElf(names: string[], nbucket = Math.max(1, names.length >> 1), hashWord: 4 | 8 = 4): Handmade {
  const enc = new TextEncoder();
  const nameBytes = names.map((n) => enc.encode(n));
  const nsyms = names.length + 1;
  const strOffsets: number[] = [];
  let strsz = 1;
  for (const b of nameBytes) {
    strOffsets.push(strsz);
    strsz += b.length + 1;
  }
  const ndyn = 6;
  const at = { dynamic: EHDR64_SIZE + 2 * PHDR64_SIZE, hash: 0, gnuHash: 0, dynsym: 0, dynstr: 0 };
  at.hash = at.dynamic + ndyn * 16;
  at.dynsym = at.hash + hashWord * (2 + nbucket + nsyms);
  at.dynsym += at.dynsym % 8;
  at.dynstr = at.dynsym + SYM64_SIZE * nsyms;
  // Last, so that a chain with no end bit runs off the end of the file.
  at.gnuHash = at.dynstr + strsz;
  at.gnuHash += (8 - (at.gnuHash % 8)) % 8;
  const size = at.gnuHash + 16 + 8 + 4 + 4 * names.length;
  const bytes = new Uint8Array(size);
  const w = new ByteWriter(bytes);
  w.raw(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  w.u16(ET_DYN).u16(EM_X86_64).u32(1).u64(0).u64(EHDR64_SIZE).u64(0).u32(0);
  w.u16(EHDR64_SIZE).u16(PHDR64_SIZE).u16(2).u16(64).u16(0).u16(0);
  w.u32(PT_LOAD).u32(5).u64(0).u64(0).u64(0).u64(size).u64(size).u64(0x1000);
  w.u32(PT_DYNAMIC)
    .u32(6)
    .u64(at.dynamic)
    .u64(at.dynamic)
    .u64(at.dynamic)
    .u64(ndyn * 16)
    .u64(ndyn * 16)
    .u64(8);
  for (const [tag, val] of [
    [DT_HASH, at.hash],
    [DT_GNU_HASH, at.gnuHash],
    [DT_SYMTAB, at.dynsym],
    [DT_STRTAB, at.dynstr],
    [DT_STRSZ, strsz],
    [DT_SYMENT, SYM64_SIZE],
  ] as const) {
    w.u64(tag).u64(val);
  }
  // SysV: prepend each symbol to its bucket's chain.
  const buckets = new Uint32Array(nbucket);
  const chains = new Uint32Array(nsyms);
  nameBytes.forEach((b, i) => {
    const bucket = elfHash(b) % nbucket;
    chains[i + 1] = buckets[bucket]!;
    buckets[bucket] = i + 1;
  });
  // 8-byte words are the DT_HASH of 64-bit Alpha and S/390.
  const word = (v: number) => (hashWord === 4 ? w.u32(v) : w.u64(v));
  w.seek(at.hash);
  word(nbucket);
  word(nsyms);
  for (const v of buckets) word(v);
  for (const v of chains) word(v);
  // GNU: one bucket holding symbols 1.., the last one with the end bit.
  w.seek(at.gnuHash)
    .u32(1)
    .u32(1)
    .u32(1)
    .u32(6)
    .u64(2n ** 64n - 1n)
    .u32(names.length > 0 ? 1 : 0);
  nameBytes.forEach((b, i) => w.u32((gnuHash(b) & ~1) | (i === names.length - 1 ? 1 : 0)));
  w.seek(at.dynsym + SYM64_SIZE);
  nameBytes.forEach((_, i) =>
    w
      .u32(strOffsets[i]!)
      .u8(ELF64_ST_INFO(STB_GLOBAL, STT_FUNC))
      .u8(0)
      .u16(5)
      .u64(0x100 + i)
      .u64(1),
  );
  w.seek(at.dynstr + 1);
  nameBytes.forEach((b) => w.raw(b).u8(0));
  return { bytes, at };
}

/** Dynamic-table offset of the entry with `tag` in a hand-made ELF. */
export function dynamicEntry(h: Handmade, tag: number): number {
  const view = new DataView(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength);
  for (let o = h.at.dynamic; ; o += 16) if (Number(view.getBigUint64(o, true)) === tag) return o;
}

export function fileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
