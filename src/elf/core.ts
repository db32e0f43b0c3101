// Core files (ET_CORE), as the Linux kernel and gdb's gcore write them: the
// PT_LOAD segments hold the dumped memory (p_filesz 0 where a mapping was not
// dumped, such as a never-written private file mapping), and PT_NOTE holds the
// registers of each thread (NT_PRSTATUS), the auxiliary vector (NT_AUXV) and
// the mapped files (NT_FILE: address range, file offset and name of each).
//
// From these, findJitLibraries recovers dlbind's live libraries: walking
// ld.so's link map in the dumped memory (found through the executable's
// DT_DEBUG) gives each object's name and load base; its text was mapped
// private and never written, so it is not in the core, but the library's
// writable MAP_SHARED alias of the same file is dumped in full (an unlinked
// memfd counts as shared anonymous memory), and it holds the whole object
// with every symbol bound.
import { DT_DEBUG, EHDR64_SIZE, ELFMAG, EM_AARCH64, EM_X86_64, ET_CORE, PHDR64_SIZE, PT_DYNAMIC, PT_LOAD, PT_NOTE, PT_PHDR, SHDR64_SIZE } from './constants.js';
import { ElfFormatError } from './errors.js';
import { type ElfNote, readNotes } from './notes.js';
import { readElf } from './reader.js';
import type { ElfSymbol, ProgramHeader } from './types.js';

export const NT_PRSTATUS = 1;
export const NT_PRPSINFO = 3;
export const NT_AUXV = 6;
export const NT_SIGINFO = 0x53494749;
export const NT_FILE = 0x46494c45;
export const AT_PHDR = 3;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;

/** Random access to a core's bytes, so that a large core need not be read whole. */
export interface CoreSource {
  /** The core's size in bytes. */
  readonly size: number;
  /** The `length` bytes at `offset` (fewer only past the end). */
  read(offset: number, length: number): Uint8Array;
}

/** One thread's state at the dump (NT_PRSTATUS). */
export interface CoreThread {
  /** The thread id (pr_pid). */
  tid: number;
  /** The signal that stopped it (pr_cursig); the dumping thread has the fatal one. */
  signal: number;
  /** The program counter (rip, pc). */
  pc: bigint;
  /** The stack pointer (rsp, sp). */
  sp: bigint;
  /** rbp on x86_64, x29 on aarch64. */
  fp: bigint;
}

/** One NT_FILE entry: [start, end) maps the file `name` from byte `offset`. */
export interface CoreFileMapping {
  /** The mapping's first address. */
  start: bigint;
  /** The address just past the mapping. */
  end: bigint;
  /** The file offset mapped at `start`, in bytes. */
  offset: bigint;
  /** The mapped file's path as the kernel wrote it (`/memfd:NAME (deleted)` for a memfd). */
  name: string;
}

/** A decoded core dump (ET_CORE), as readCore returns it: its segments, notes, threads, mapped files and auxiliary vector. */
export interface CoreFile {
  /** 'x86_64', 'aarch64', or the EM_ name of any other e_machine. */
  machine: 'x86_64' | 'aarch64' | string;
  /** The header's e_machine. */
  e_machine: number;
  /** The PT_LOAD segments: p_vaddr..p_vaddr+p_memsz was mapped, its first p_filesz bytes are in the core. */
  loads: ProgramHeader[];
  /** Every note of the PT_NOTE segments, in order. */
  notes: ElfNote[];
  /** The dumping thread first, as the kernel and gdb write them. */
  threads: CoreThread[];
  /** The NT_FILE mappings: which file each address range maps. */
  files: CoreFileMapping[];
  /** The auxiliary vector (NT_AUXV): AT_* type to value. */
  auxv: Map<number, bigint>;
  /** The process id (from NT_PRPSINFO, else the first thread's). */
  pid: number;
  /** The program's name (NT_PRPSINFO pr_fname), when present. */
  command?: string;
  /** The dumped bytes at [addr, addr+length), or undefined when any of them is not in the core. */
  read(addr: bigint, length: number): Uint8Array | undefined;
}

/** Reads headers beyond this only through the source. */
const MAX_NOTES_BYTES = 64 << 20;

function sourceOf(input: Uint8Array | CoreSource): CoreSource {
  if (input instanceof Uint8Array) {
    return {
      size: input.length,
      read: (offset, length) => {
        if (offset < 0 || length < 0 || offset + length > input.length)
          throw new ElfFormatError(`[0x${offset.toString(16)}, +0x${length.toString(16)}) lies outside the core`, offset);
        return input.subarray(offset, offset + length);
      },
    };
  }
  return input;
}

function checkedRead(src: CoreSource, offset: bigint, length: bigint, what: string, at: number): Uint8Array {
  if (offset < 0n || length < 0n || offset + length > BigInt(src.size))
    throw new ElfFormatError(`${what} [0x${offset.toString(16)}, +0x${length.toString(16)}) lies outside the core of ${src.size} bytes`, at);
  return src.read(Number(offset), Number(length));
}

const u64 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(o, true);
const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);

/**
 * Decodes a core file's header, segments and notes. Throws ElfFormatError for
 * anything malformed, and for an ELF file that is not a core.
 */
export function readCore(input: Uint8Array | CoreSource): CoreFile {
  const src = sourceOf(input);
  const h = checkedRead(src, 0n, BigInt(EHDR64_SIZE), 'the ELF header', 0);
  for (let i = 0; i < ELFMAG.length; i++) if (h[i] !== ELFMAG[i]) throw new ElfFormatError('bad ELF magic', i, h[i]);
  if (h[4] !== 2 || h[5] !== 1) throw new ElfFormatError('only little-endian ELF64 cores are read', 4, h[4]);
  const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const e_type = view.getUint16(16, true);
  if (e_type !== ET_CORE) throw new ElfFormatError(`not a core file (e_type ${e_type}, a core has ET_CORE ${ET_CORE})`, 16, e_type);
  const e_machine = view.getUint16(18, true);
  const e_phoff = view.getBigUint64(32, true);
  const e_phentsize = view.getUint16(54, true);
  const e_phnum = view.getUint16(56, true);
  if (e_phentsize !== PHDR64_SIZE) throw new ElfFormatError(`e_phentsize is not ${PHDR64_SIZE}`, 54, e_phentsize);
  const table = checkedRead(src, e_phoff, BigInt(e_phnum * PHDR64_SIZE), 'the program header table', 32);
  const loads: ProgramHeader[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < e_phnum; i++) {
    const o = i * PHDR64_SIZE;
    const p: ProgramHeader = {
      p_type: u32(table, o),
      p_flags: u32(table, o + 4),
      p_offset: u64(table, o + 8),
      p_vaddr: u64(table, o + 16),
      p_paddr: u64(table, o + 24),
      p_filesz: u64(table, o + 32),
      p_memsz: u64(table, o + 40),
      p_align: u64(table, o + 48),
    };
    const at = Number(e_phoff) + o;
    if (p.p_type === PT_LOAD) {
      if (p.p_filesz > p.p_memsz) throw new ElfFormatError('a PT_LOAD has p_filesz > p_memsz', at + 32, p.p_filesz);
      if (p.p_filesz > 0n) checkedRead(src, p.p_offset, 0n, 'a PT_LOAD', at + 8);
      if (p.p_offset + p.p_filesz > BigInt(src.size)) throw new ElfFormatError('a PT_LOAD runs past the end of the core (truncated core?)', at + 8, p.p_offset);
      loads.push(p);
    } else if (p.p_type === PT_NOTE) {
      if (p.p_filesz > BigInt(MAX_NOTES_BYTES)) throw new ElfFormatError('PT_NOTE is implausibly large', at + 32, p.p_filesz);
      const bytes = checkedRead(src, p.p_offset, p.p_filesz, 'PT_NOTE', at + 8);
      for (const n of readNotes(bytes, 0, bytes.length, Number(p.p_align) === 8 ? 8 : 4)) notes.push({ ...n, offset: n.offset + Number(p.p_offset) });
    }
  }
  loads.sort((a, b) => (a.p_vaddr < b.p_vaddr ? -1 : a.p_vaddr > b.p_vaddr ? 1 : 0));
  const machine = e_machine === EM_X86_64 ? 'x86_64' : e_machine === EM_AARCH64 ? 'aarch64' : `EM ${e_machine}`;
  const threads: CoreThread[] = [];
  const files: CoreFileMapping[] = [];
  const auxv = new Map<number, bigint>();
  let pid = 0;
  let command: string | undefined;
  for (const n of notes) {
    if (n.name !== 'CORE') continue;
    if (n.n_type === NT_PRSTATUS) threads.push(prstatus(n, e_machine));
    else if (n.n_type === NT_FILE) files.push(...ntFile(n));
    else if (n.n_type === NT_AUXV) {
      for (let o = 0; o + 16 <= n.desc.length; o += 16) {
        const type = u64(n.desc, o);
        if (type === 0n) break;
        auxv.set(Number(type), u64(n.desc, o + 8));
      }
    } else if (n.n_type === NT_PRPSINFO && n.desc.length >= 56 + 16) {
      // struct elf_prpsinfo (64-bit): pr_state..pr_flag (16 bytes), pr_uid, pr_gid (4 each), pr_pid at 24, pr_fname[16] at 40.
      pid = u32(n.desc, 24);
      const fname = n.desc.subarray(40, 56);
      const end = fname.indexOf(0);
      command = new TextDecoder('latin1').decode(fname.subarray(0, end < 0 ? 16 : end));
    }
  }
  if (pid === 0 && threads.length > 0) pid = threads[0]!.tid;

  const read = (addr: bigint, length: number): Uint8Array | undefined => {
    if (length < 0) return undefined;
    const end = addr + BigInt(length);
    // Segments are sorted and do not overlap: binary search for the last one starting at or below addr.
    let lo = 0;
    let hi = loads.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (loads[mid]!.p_vaddr <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const p = loads[found]!;
    if (end <= p.p_vaddr + p.p_filesz) return src.read(Number(p.p_offset + (addr - p.p_vaddr)), length);
    // Across segments (one mapping split by madvise into several), where pages left out of the
    // dump (MADV_DONTDUMP, p_filesz short of p_memsz) read as zeros; a gap no segment covers fails.
    const out = new Uint8Array(length);
    let at = addr;
    for (let k = found; at < end; k++) {
      const q = loads[k];
      if (q === undefined || q.p_vaddr > at || at >= q.p_vaddr + q.p_memsz) return undefined;
      const stop = end < q.p_vaddr + q.p_memsz ? end : q.p_vaddr + q.p_memsz;
      const dumpedEnd = q.p_vaddr + q.p_filesz;
      if (at < dumpedEnd) {
        const upTo = stop < dumpedEnd ? stop : dumpedEnd;
        out.set(src.read(Number(q.p_offset + (at - q.p_vaddr)), Number(upTo - at)), Number(at - addr));
      }
      at = stop;
    }
    return out;
  };
  return { machine, e_machine, loads, notes, threads, files, auxv, pid, command, read };
}

function prstatus(n: ElfNote, e_machine: number): CoreThread {
  // struct elf_prstatus: siginfo (12 bytes), pr_cursig (2) + pad, pr_sigpend, pr_sighold, pr_pid, pr_ppid, pr_pgrp, pr_sid, four timevals, then pr_reg at 112.
  const REG = 112;
  // x86_64 user_regs_struct: rip is register 16, rsp 19, rbp 4. aarch64 user_pt_regs: x0..x30, sp (31), pc (32).
  const [pcAt, spAt, fpAt, count] = e_machine === EM_AARCH64 ? [32, 31, 29, 34] : [16, 19, 4, 27];
  if (n.desc.length < REG + count * 8) throw new ElfFormatError(`NT_PRSTATUS is ${n.desc.length} bytes, too short for its registers`, n.offset, n.desc.length);
  const d = new DataView(n.desc.buffer, n.desc.byteOffset, n.desc.byteLength);
  return {
    tid: d.getUint32(32, true),
    signal: d.getUint16(12, true),
    pc: d.getBigUint64(REG + pcAt * 8, true),
    sp: d.getBigUint64(REG + spAt * 8, true),
    fp: d.getBigUint64(REG + fpAt * 8, true),
  };
}

function ntFile(n: ElfNote): CoreFileMapping[] {
  // count, page_size, then count × {start, end, file_ofs in pages}, then count NUL-terminated names.
  const d = n.desc;
  if (d.length < 16) throw new ElfFormatError('NT_FILE is too short for its header', n.offset, d.length);
  const count = u64(d, 0);
  const pageSize = u64(d, 8);
  if (count > BigInt(Math.floor((d.length - 16) / 24))) throw new ElfFormatError(`NT_FILE claims ${count} entries in ${d.length} bytes`, n.offset, count);
  const entries = Number(count);
  let at = 16 + entries * 24;
  const out: CoreFileMapping[] = [];
  for (let i = 0; i < entries; i++) {
    const end = d.indexOf(0, at);
    if (end < 0) throw new ElfFormatError(`NT_FILE name ${i} has no NUL`, n.offset + at);
    const o = 16 + i * 24;
    out.push({ start: u64(d, o), end: u64(d, o + 8), offset: u64(d, o + 16) * pageSize, name: new TextDecoder().decode(d.subarray(at, end)) });
    at = end + 1;
  }
  return out;
}

/** A live dlbind library found in a core. */
export interface CoreJitLibrary {
  /** The name ld.so was given (link_map l_name, /proc/<pid>/fd/<n> for a memfd), when the link map could be walked. */
  linkMapName?: string;
  /** The mapped file's name in NT_FILE: `/memfd:NAME (deleted)`, or the backing file's path. */
  fileName: string;
  /** l_addr: what st_value is relative to. */
  loadBase: bigint;
  /** Where the writable shared alias was mapped. */
  aliasStart: bigint;
  /** The object as it was in memory: a complete shared object with every symbol bound. */
  image: Uint8Array;
  /** DT_SONAME of the image, when it has one. */
  soname?: string;
  /** The defined dynamic symbols, st_value relative to the load base. */
  symbols: ElfSymbol[];
  /** The extent of the loaded object, [loadBase, loadBase + memorySize). */
  memorySize: bigint;
}

/** The load base and name of each object in ld.so's link map, through the executable's DT_DEBUG; undefined where that cannot be read. */
export function linkMapOf(core: CoreFile): { name: string; l_addr: bigint }[] | undefined {
  const phdr = core.auxv.get(AT_PHDR);
  const phnum = core.auxv.get(AT_PHNUM);
  if (phdr === undefined || phnum === undefined || phnum > 4096n) return undefined;
  const table = core.read(phdr, Number(phnum) * PHDR64_SIZE);
  if (table === undefined) return undefined;
  let bias: bigint | undefined;
  let dynamic: { vaddr: bigint; size: bigint } | undefined;
  for (let o = 0; o < table.length; o += PHDR64_SIZE) {
    const type = u32(table, o);
    if (type === PT_PHDR) bias = phdr - u64(table, o + 16);
    if (type === PT_DYNAMIC) dynamic = { vaddr: u64(table, o + 16), size: u64(table, o + 40) };
  }
  if (dynamic === undefined || dynamic.size > 1n << 20n) return undefined;
  // A non-PIE executable has no PT_PHDR bias to find; its vaddrs are absolute.
  const dyn = core.read(dynamic.vaddr + (bias ?? 0n), Number(dynamic.size));
  if (dyn === undefined) return undefined;
  let rDebug = 0n;
  for (let o = 0; o + 16 <= dyn.length; o += 16) {
    const tag = u64(dyn, o);
    if (tag === 0n) break;
    if (tag === BigInt(DT_DEBUG)) rDebug = u64(dyn, o + 8);
  }
  if (rDebug === 0n) return undefined;
  // struct r_debug: int r_version; struct link_map *r_map; ...  struct link_map: l_addr, l_name, l_ld, l_next.
  const head = core.read(rDebug + 8n, 8);
  if (head === undefined) return undefined;
  const out: { name: string; l_addr: bigint }[] = [];
  const seen = new Set<bigint>();
  for (let map = u64(head, 0); map !== 0n && !seen.has(map) && out.length < 65536; ) {
    seen.add(map);
    const lm = core.read(map, 32);
    if (lm === undefined) return out;
    out.push({ name: readCString(core, u64(lm, 8)) ?? '', l_addr: u64(lm, 0) });
    map = u64(lm, 24);
  }
  return out;
}

function readCString(core: CoreFile, addr: bigint): string | undefined {
  if (addr === 0n) return undefined;
  // Read up to the end of the page first: the string's page is dumped, the next one may not be.
  for (let want = 4096 - Number(addr & 0xfffn); want <= 8192; want += 4096) {
    const bytes = core.read(addr, want);
    if (bytes === undefined) return undefined;
    const end = bytes.indexOf(0);
    if (end >= 0) return new TextDecoder().decode(bytes.subarray(0, end));
  }
  return undefined;
}

/** The file size of the ELF object whose first bytes are `head`: the furthest of its headers, section headers and segments. */
function imageSize(head: Uint8Array): bigint | undefined {
  if (head.length < EHDR64_SIZE) return undefined;
  for (let i = 0; i < ELFMAG.length; i++) if (head[i] !== ELFMAG[i]) return undefined;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (v.getUint16(16, true) !== 3 /* ET_DYN */) return undefined;
  const phoff = v.getBigUint64(32, true);
  const shoff = v.getBigUint64(40, true);
  const phnum = v.getUint16(56, true);
  const shnum = v.getUint16(60, true);
  let size = shoff + BigInt(shnum * SHDR64_SIZE);
  const phEnd = phoff + BigInt(phnum * PHDR64_SIZE);
  if (phEnd > size) size = phEnd;
  if (phEnd > BigInt(head.length)) return undefined;
  for (let i = 0; i < phnum; i++) {
    const o = Number(phoff) + i * PHDR64_SIZE;
    const end = v.getBigUint64(o + 8, true) + v.getBigUint64(o + 32, true);
    if (end > size) size = end;
  }
  return size;
}

/**
 * The live dlbind libraries in a core: every object that the link map lists
 * (or, without a readable link map, every file mapped at offset 0 twice) and
 * that has a second, fully dumped mapping of its whole file at offset 0, the
 * alias. The image is read from the alias.
 */
export function findJitLibraries(core: CoreFile): CoreJitLibrary[] {
  const maps = linkMapOf(core);
  const byName = new Map<string, CoreFileMapping[]>();
  for (const f of core.files) {
    const list = byName.get(f.name) ?? [];
    list.push(f);
    byName.set(f.name, list);
  }
  const objects: { linkMapName?: string; base: bigint; file: CoreFileMapping }[] = [];
  if (maps !== undefined) {
    for (const m of maps) {
      // ld.so maps an object's first segment from file offset 0 at l_addr plus its first p_vaddr (0 for dlbind's zygotes).
      const file = core.files.find((f) => f.offset === 0n && f.start <= m.l_addr + 0xfffn && f.start >= m.l_addr);
      if (file !== undefined) objects.push({ linkMapName: m.name, base: m.l_addr, file });
    }
  } else {
    for (const list of byName.values()) {
      const first = list.filter((f) => f.offset === 0n).sort((a, b) => (a.start < b.start ? -1 : 1));
      for (const f of first) if (core.read(f.start, 4) === undefined) objects.push({ base: f.start, file: f });
    }
  }
  const out: CoreJitLibrary[] = [];
  for (const o of objects) {
    const candidates = (byName.get(o.file.name) ?? []).filter((f) => f.offset === 0n && f.start !== o.file.start);
    for (const alias of candidates) {
      const head = core.read(alias.start, Math.min(65536, Number(alias.end - alias.start)));
      const size = head === undefined ? undefined : imageSize(head);
      // madvise (MADV_DONTDUMP on unused capacity) splits the alias into several mappings of consecutive file ranges.
      let aliasEnd = alias.end;
      for (let more = true; more; ) {
        more = false;
        for (const f of byName.get(o.file.name) ?? []) {
          if (f.start === aliasEnd && f.offset === aliasEnd - alias.start) {
            aliasEnd = f.end;
            more = true;
          }
        }
      }
      if (size === undefined || size > aliasEnd - alias.start || size > 1n << 40n) continue;
      const image = core.read(alias.start, Number(size));
      if (image === undefined) continue;
      // Two libraries may share a name: the right alias matches whatever of ld.so's own mapping was dumped (its first page, usually).
      const page = Number(core.auxv.get(6) ?? 4096n);
      const dumped = core.read(o.file.start, Math.min(page, image.length));
      if (dumped !== undefined && !sameBytes(dumped, image.subarray(0, dumped.length))) continue;
      let file: ReturnType<typeof readElf>;
      try {
        file = readElf(image);
      } catch {
        continue;
      }
      let memorySize = 0n;
      for (const p of file.segments) if (p.p_type === PT_LOAD && p.p_vaddr + p.p_memsz > memorySize) memorySize = p.p_vaddr + p.p_memsz;
      const symbols = file.dynamicSymbols.filter((s) => s.st_shndx !== 0 && s.name !== '');
      out.push({
        linkMapName: o.linkMapName,
        fileName: o.file.name,
        loadBase: o.base,
        aliasStart: alias.start,
        image,
        soname: file.soname,
        symbols,
        memorySize,
      });
      break;
    }
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The symbol of `lib` holding `addr` (as dladdr matches: the highest st_value at or below it, inside its size), with the offset into it. */
export function symbolizeInLibrary(
  lib: CoreJitLibrary,
  addr: bigint,
):
  | {
      /** The symbol's name. */
      name: string;
      /** How far `addr` is past the symbol's start. */
      offset: bigint;
    }
  | undefined {
  if (addr < lib.loadBase || addr >= lib.loadBase + lib.memorySize) return undefined;
  const rel = addr - lib.loadBase;
  let best: ElfSymbol | undefined;
  for (const s of lib.symbols) {
    if (s.st_value > rel) continue;
    if (s.st_size !== 0n && rel >= s.st_value + s.st_size) continue;
    if (best === undefined || s.st_value > best.st_value) best = s;
  }
  return best === undefined ? undefined : { name: best.name, offset: rel - best.st_value };
}
