// The ELF64 reader: decodes the writer's output, the system linker's output and loaded images.
// Input is hostile until checked: every count is capped by the bytes that could hold it before
// anything is allocated from it, and every failure is an ElfFormatError naming the offset.

import { ByteReader, HOST_LITTLE_ENDIAN, readCString, toNumber, utf8Bytes } from './bytes.js';
import {
  DT_GNU_HASH,
  DT_HASH,
  DT_NEEDED,
  DT_NULL,
  DT_JMPREL,
  DT_PLTGOT,
  DT_REL,
  DT_RELA,
  DT_RELR,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  DT_VERSYM,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT,
  DYN64_SIZE,
  EHDR64_SIZE,
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  EI_VERSION,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFMAG,
  EM,
  EM_AARCH64,
  EM_ALPHA,
  EM_S390,
  EM_S390_OLD,
  EM_X86_64,
  EV_CURRENT,
  PHDR64_SIZE,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  SHDR64_SIZE,
  SHN_ABS,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_GNU_UNIQUE,
  STB_WEAK,
  STT_COMMON,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_TLS,
  STV_HIDDEN,
  STV_INTERNAL,
  SYM64_SIZE,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import { type Region, regionOf, tableRegion } from './read-region.js';
import { elfHash, gnuHash } from './hash.js';
import { type UnwindInfo, readUnwindInfo } from './unwind-info.js';
import { type DecodedNote, decodeNote } from './read-notes.js';
import { readNotes } from './notes.js';
import { readRelocationTables } from './read-relocations.js';
import { type VersionArea, type VersionSlot, readVersionDefinitions, readVersionNeeds, symbolVersions, versionSlots, versionedName } from './read-versions.js';
import type {
  DynamicEntry,
  ElfHeader,
  ElfSymbol,
  GnuHashTable,
  ProgramHeader,
  Relocation,
  RelocationTable,
  SectionHeader,
  SymbolVersion,
  SysvHashTable,
  VersionDefinition,
  VersionNeed,
} from './types.js';

/** How readElf reads its input. */
export interface ReadOptions {
  /**
   * 'file' (default): `bytes` is the file; addresses go through the PT_LOAD that holds them.
   * 'memory': `bytes` is a loaded image whose byte 0 is the lowest PT_LOAD's page-aligned
   * vaddr (p_vaddr & ~(p_align-1)); an address maps to `addr - thatBase`. Section headers are
   * not read (they are usually not mapped), so `sections` and `symbols` are empty.
   */
  readonly layout?: 'file' | 'memory';
  /**
   * Memory layout only, default false. glibc adds the load bias to some d_ptr entries of a
   * writable .dynamic in place when it loads an object (2.36 still does; only targets with a
   * read-only .dynamic, such as RISC-V and MIPS, are spared). Set this when reading such an
   * image: `loadBase` is then subtracted from the tags in GLIBC_RELOCATED_TAGS, and `dynamic`
   * reports the link-time values.
   */
  readonly dynamicRelocated?: boolean;
  /** The load bias (link_map l_addr: run-time address minus link-time vaddr). Required with dynamicRelocated. */
  readonly loadBase?: bigint;
}

/** A decoded ELF64 object (a file or a loaded image), as readElf returns it. */
export interface ElfFile {
  /** The ELF header. */
  header: ElfHeader;
  /** 'x86_64', 'aarch64', or the EM_ name of any other e_machine. */
  machine: 'x86_64' | 'aarch64' | string;
  /** The program headers, in file order. */
  segments: ProgramHeader[];
  /** Empty in memory layout and when e_shoff is 0. */
  sections: SectionHeader[];
  /** Up to and excluding DT_NULL. */
  dynamic: DynamicEntry[];
  /** DT_SONAME, when the object has one. */
  soname?: string;
  /** DT_NEEDED names, in order. */
  needed: string[];
  /**
   * Index 0 (the null symbol) included. From SHT_DYNSYM in file layout when there are section
   * headers, else from DT_SYMTAB with the count from DT_HASH nchain or the GNU hash chains;
   * empty when DT_SYMTAB has neither hash table to count it.
   */
  dynamicSymbols: ElfSymbol[];
  /** .symtab, index 0 included; empty when absent and in memory layout. */
  symbols: ElfSymbol[];
  /** DT_HASH, when present. */
  sysvHash?: SysvHashTable;
  /** DT_GNU_HASH, when present. */
  gnuHash?: GnuHashTable;
  /** DT_VERSYM, one entry per dynamic symbol, when present. */
  versym?: Uint16Array;
  /** DT_VERDEF (or .gnu.version_d): the versions this object defines, the BASE one (its soname) first. */
  versionDefinitions: VersionDefinition[];
  /** DT_VERNEED (or .gnu.version_r): the versions it needs, by file. */
  versionNeeds: VersionNeed[];
  /** One per dynamic symbol when there is DT_VERSYM, else empty. */
  symbolVersions: SymbolVersion[];
  /**
   * Every relocation table, by input offset: DT_RELA, DT_REL, DT_JMPREL (as DT_PLTREL says) and
   * DT_RELR from the dynamic array, and in file layout the SHT_RELA/SHT_REL/SHT_RELR sections no
   * dynamic tag covers (an ET_REL object's .rela.text, with the section it applies to).
   */
  relocationTables: RelocationTable[];
  /** The entries of every table but RELR's, in table order. */
  relocations: Relocation[];
  /** The notes: of the SHT_NOTE sections when there are section headers, else of the PT_NOTE segments. */
  notes: DecodedNote[];
  /** The first NT_GNU_BUILD_ID note's bytes, in hex. */
  buildId?: string;
  /** What the reader tolerated as the loader would (a table naming symbols it lacks, a misplaced PT_DYNAMIC). */
  warnings: string[];
  /**
   * .eh_frame and .eh_frame_hdr (by section, else through PT_GNU_EH_FRAME); undefined when there
   * are none. Decoded on first access, which throws ElfFormatError for malformed tables.
   */
  unwind?: UnwindInfo;
  /** The first section with this name. */
  section(name: string): SectionHeader | undefined;
  /**
   * Finds a dynamic symbol as ld.so does for dlsym: through DT_GNU_HASH if present (bloom
   * filter, bucket, chain to the end bit), else DT_HASH; skipping undefined symbols, symbols
   * with no value, types ld.so does not bind, and non-default versions (DT_VERSYM); and
   * answering undefined when the match is local or hidden. Malformed tables (chain loops,
   * indexes past the symbol table) throw ElfFormatError.
   * With `version`, finds it as dlvsym does: only the definition of exactly that version
   * (`lookup('memcpy', 'GLIBC_2.2.5')` is the old memcpy); an object without DT_VERSYM
   * offers every symbol under any version.
   */
  lookup(name: string, version?: string): ElfSymbol | undefined;
  /** Dynamic symbol `index` as readelf names it: `memcpy@@GLIBC_2.14`, `memcpy@GLIBC_2.2.5`, `puts@GLIBC_2.2.5` (needed). */
  versionedName(index: number): string;
}

/**
 * The d_ptr tags that glibc's elf_get_dynamic_info relocates in place (the last entry of each).
 * Not every d_ptr tag: DT_INIT_ARRAY, DT_VERDEF, DT_VERNEED, DT_DEBUG and others keep link-time values.
 */
export const GLIBC_RELOCATED_TAGS: ReadonlySet<number> = new Set([
  DT_HASH,
  DT_PLTGOT,
  DT_STRTAB,
  DT_SYMTAB,
  DT_RELR,
  DT_RELA,
  DT_REL,
  DT_JMPREL,
  DT_VERSYM,
  DT_GNU_HASH,
]);

const PN_XNUM = 0xffff;
const STN_UNDEF = 0;
const VERSYM_HIDDEN = 0x8000;
const ALLOWED_STT = (1 << STT_NOTYPE) | (1 << STT_OBJECT) | (1 << STT_FUNC) | (1 << STT_COMMON) | (1 << STT_TLS) | (1 << STT_GNU_IFUNC);

/**
 * A string table decoded once: names are slices of one latin1 string, found by binary search
 * over the table's NULs. Decoding each name on its own would be quadratic when hostile indexes
 * all point into one long string, and building names a character at a time dominates the cost
 * of a million symbols.
 */
class StringTable {
  private text = '';
  /** Offsets of the NULs, relative to the table, ascending; undefined until the first get(). */
  private nuls: Int32Array | undefined;
  /** Per NUL: whether the string it ends holds a byte >= 0x80 (decoded as UTF-8, one at a time). */
  private wide: Uint8Array | undefined;
  /** Bytes that UTF-8 names may still decode, so that overlapping ones cannot go quadratic. */
  private wideBudget: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly region: Region,
    private readonly what: string,
  ) {
    this.wideBudget = 4 * (region.end - region.offset) + 65536;
  }

  private build(): Int32Array {
    const { bytes, region } = this;
    let count = 0;
    for (let i = region.offset; i < region.end; i++) if (bytes[i] === 0) count++;
    const nuls = new Int32Array(count);
    const wide = new Uint8Array(count);
    let high = 0;
    for (let i = region.offset, k = 0; i < region.end; i++) {
      const c = bytes[i]!;
      high |= c;
      if (c !== 0) continue;
      nuls[k] = i - region.offset;
      wide[k++] = high >= 0x80 ? 1 : 0;
      high = 0;
    }
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset + region.offset, region.end - region.offset).toString('latin1');
    this.wide = wide;
    return (this.nuls = nuls);
  }

  /** `at` is the offset of the field that holds the index. */
  get(index: number, at: number): string {
    if (index >= this.region.end - this.region.offset) throw new ElfFormatError(`string index past the end of ${this.what}`, at, index);
    const nuls = this.nuls ?? this.build();
    let lo = 0;
    let hi = nuls.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nuls[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nuls.length) throw new ElfFormatError(`unterminated string in ${this.what}`, at, index);
    const end = nuls[lo]!;
    if (this.wide![lo] === 0) return this.text.slice(index, end);
    this.wideBudget -= end - index;
    if (this.wideBudget < 0) throw new ElfFormatError(`non-ASCII strings in ${this.what} overlap too much to decode`, at, index);
    return readCString(this.bytes, this.region.offset + index, this.region.offset + end + 1)!;
  }
}

/** A fresh, aligned copy of a region (Buffer.slice would share the input, and may be unaligned). */
function copyBytes(r: ByteReader, region: Region): ArrayBuffer {
  return new Uint8Array(r.bytes.subarray(region.offset, region.end)).buffer;
}

function copyU32(r: ByteReader, region: Region): Uint32Array {
  if (HOST_LITTLE_ENDIAN) return new Uint32Array(copyBytes(r, region));
  const out = new Uint32Array((region.end - region.offset) / 4);
  for (let i = 0; i < out.length; i++) out[i] = r.u32(region.offset + 4 * i);
  return out;
}

function copyU64(r: ByteReader, region: Region): BigUint64Array {
  if (HOST_LITTLE_ENDIAN) return new BigUint64Array(copyBytes(r, region));
  const out = new BigUint64Array((region.end - region.offset) / 8);
  for (let i = 0; i < out.length; i++) out[i] = r.u64(region.offset + 8 * i);
  return out;
}

function readHeader(r: ByteReader): ElfHeader {
  r.check(0, EI_NIDENT, 'e_ident');
  for (let i = 0; i < ELFMAG.length; i++) {
    if (r.u8(i) !== ELFMAG[i]) throw new ElfFormatError('bad ELF magic', i, r.u8(i));
  }
  const ei_class = r.u8(EI_CLASS);
  if (ei_class !== ELFCLASS64) throw new ElfFormatError('unsupported ELF class (only ELFCLASS64 is read)', EI_CLASS, ei_class);
  const ei_data = r.u8(EI_DATA);
  if (ei_data !== ELFDATA2LSB) throw new ElfFormatError('unsupported byte order (only ELFDATA2LSB is read)', EI_DATA, ei_data);
  if (r.u8(EI_VERSION) !== EV_CURRENT) throw new ElfFormatError('unknown ELF version', EI_VERSION, r.u8(EI_VERSION));
  r.check(0, EHDR64_SIZE, 'ELF header');
  return {
    ei_class,
    ei_data,
    ei_osabi: r.u8(EI_OSABI),
    ei_abiversion: r.u8(EI_ABIVERSION),
    e_type: r.u16(16),
    e_machine: r.u16(18),
    e_version: r.u32(20),
    e_entry: r.u64(24),
    e_phoff: r.u64(32),
    e_shoff: r.u64(40),
    e_flags: r.u32(48),
    e_ehsize: r.u16(52),
    e_phentsize: r.u16(54),
    e_phnum: r.u16(56),
    e_shentsize: r.u16(58),
    e_shnum: r.u16(60),
    e_shstrndx: r.u16(62),
  };
}

function readSections(r: ByteReader, h: ElfHeader): SectionHeader[] {
  if (h.e_shoff === 0n) return [];
  if (h.e_shentsize !== SHDR64_SIZE) throw new ElfFormatError(`e_shentsize is not ${SHDR64_SIZE}`, 58, h.e_shentsize);
  const shoff = regionOf(r, h.e_shoff, BigInt(SHDR64_SIZE), 'section header 0', 40).offset;
  // Extended numbering: section 0 holds the counts that do not fit in the ELF header.
  const count = h.e_shnum !== 0 ? h.e_shnum : toNumber(r.u64(shoff + 32), 'section count in section 0 sh_size', shoff + 32);
  const table = tableRegion(shoff, count, SHDR64_SIZE, r.length, 'section header table');
  const sections: SectionHeader[] = [];
  for (let o = table.offset; o < table.end; o += SHDR64_SIZE) {
    sections.push({
      name: '',
      sh_name: r.u32(o),
      sh_type: r.u32(o + 4),
      sh_flags: r.u64(o + 8),
      sh_addr: r.u64(o + 16),
      sh_offset: r.u64(o + 24),
      sh_size: r.u64(o + 32),
      sh_link: r.u32(o + 40),
      sh_info: r.u32(o + 44),
      sh_addralign: r.u64(o + 48),
      sh_entsize: r.u64(o + 56),
    });
  }
  const shstrndx = h.e_shstrndx === SHN_XINDEX && count > 0 ? sections[0]!.sh_link : h.e_shstrndx;
  if (shstrndx === SHN_UNDEF || count === 0) return sections;
  if (shstrndx >= count) throw new ElfFormatError(`e_shstrndx is past the ${count} sections`, 62, shstrndx);
  const names = new StringTable(r.bytes, sectionRegion(r, sections, shstrndx, shoff), 'the section name table');
  for (let i = 0; i < count; i++) sections[i]!.name = names.get(sections[i]!.sh_name, shoff + i * SHDR64_SIZE);
  return sections;
}

/** A section as messages name it: by name, or by index when it has none. */
function sectionLabel(s: SectionHeader, index: number): string {
  return s.name === '' ? `section ${index}` : s.name;
}

function sectionRegion(r: ByteReader, sections: SectionHeader[], index: number, shoff: number): Region {
  const s = sections[index]!;
  const at = shoff + index * SHDR64_SIZE;
  if (s.sh_type === SHT_NOBITS) throw new ElfFormatError(`section ${index}${s.name === '' ? '' : ` ${s.name}`} has no file data (SHT_NOBITS)`, at);
  return regionOf(r, s.sh_offset, s.sh_size, `section ${index}${s.name === '' ? '' : ` ${s.name}`}`, at + 24);
}

function readSegments(r: ByteReader, h: ElfHeader, sections: SectionHeader[]): ProgramHeader[] {
  let count = h.e_phnum;
  if (count === PN_XNUM) {
    if (sections.length === 0) throw new ElfFormatError('e_phnum is PN_XNUM but there is no section 0 to hold the count', 56, count);
    count = sections[0]!.sh_info;
  }
  if (count === 0) return [];
  if (h.e_phentsize !== PHDR64_SIZE) throw new ElfFormatError(`e_phentsize is not ${PHDR64_SIZE}`, 54, h.e_phentsize);
  const phoff = toNumber(h.e_phoff, 'e_phoff', 32);
  const table = tableRegion(phoff, count, PHDR64_SIZE, r.length, 'program header table');
  const segments: ProgramHeader[] = [];
  for (let o = table.offset; o < table.end; o += PHDR64_SIZE) {
    segments.push({
      p_type: r.u32(o),
      p_flags: r.u32(o + 4),
      p_offset: r.u64(o + 8),
      p_vaddr: r.u64(o + 16),
      p_paddr: r.u64(o + 24),
      p_filesz: r.u64(o + 32),
      p_memsz: r.u64(o + 40),
      p_align: r.u64(o + 48),
    });
  }
  return segments;
}

/**
 * The program interpreter named by PT_INTERP in the ELF file whose first bytes
 * are `head` (the path ld.so is loaded from), or undefined when the file has
 * none or its path lies past `head`. For a look at an executable without
 * reading it whole: linkers put the headers and the path in the first page.
 * Throws ElfFormatError when the headers `head` holds are not ELF64.
 */
export function readInterpreter(head: Uint8Array): string | undefined {
  const r = new ByteReader(head);
  const h = readHeader(r);
  // The count of PN_XNUM is in section 0, at the file's end: past any head.
  if (h.e_phnum === PN_XNUM) return undefined;
  for (const p of readSegments(r, h, [])) {
    if (p.p_type !== PT_INTERP) continue;
    if (p.p_offset + p.p_filesz > BigInt(head.length)) return undefined;
    const at = Number(p.p_offset);
    return readCString(head, at, at + Number(p.p_filesz));
  }
  return undefined;
}

/** Where an address lies in the input, and how far the bytes behind it reach. */
interface Located {
  readonly offset: number;
  readonly limit: number;
}

/** Translates virtual addresses to input offsets, for the file or for a loaded image. */
class AddressMap {
  private readonly loads: ProgramHeader[];
  private readonly base: bigint;
  constructor(
    private readonly r: ByteReader,
    segments: ProgramHeader[],
    private readonly memory: boolean,
    phoff: number,
  ) {
    this.loads = segments.filter((p) => p.p_type === PT_LOAD);
    this.base = 0n;
    if (!memory) return;
    if (this.loads.length === 0) throw new ElfFormatError('a memory image needs a PT_LOAD to place it', phoff);
    let base: bigint | undefined;
    for (const [i, p] of segments.entries()) {
      if (p.p_type !== PT_LOAD) continue;
      if (p.p_align > 1n && (p.p_align & (p.p_align - 1n)) !== 0n) {
        throw new ElfFormatError('PT_LOAD p_align is not a power of two', phoff + i * PHDR64_SIZE + 48, p.p_align);
      }
      const start = p.p_align > 1n ? p.p_vaddr & ~(p.p_align - 1n) : p.p_vaddr;
      if (base === undefined || start < base) base = start;
    }
    this.base = base!;
  }

  /** `at` is the offset of the field that held the address. */
  locate(addr: bigint, what: string, at: number): Located {
    const length = BigInt(this.r.length);
    if (this.memory) {
      const delta = addr - this.base;
      if (delta < 0n || delta >= length) throw new ElfFormatError(`${what} address lies outside the image`, at, addr);
      return { offset: Number(delta), limit: this.r.length };
    }
    for (const p of this.loads) {
      const delta = addr - p.p_vaddr;
      if (delta < 0n || delta >= p.p_memsz) continue;
      if (delta >= p.p_filesz) throw new ElfFormatError(`${what} address lies past its PT_LOAD's p_filesz`, at, addr);
      const offset = p.p_offset + delta;
      const end = p.p_offset + p.p_filesz;
      if (offset >= length) throw new ElfFormatError(`${what} address maps past the end of the file`, at, addr);
      return { offset: Number(offset), limit: Number(end < length ? end : length) };
    }
    throw new ElfFormatError(`${what} address lies in no PT_LOAD`, at, addr);
  }

  /** A table of known byte size at `addr`, which must lie within one segment's bytes. */
  region(addr: bigint, size: bigint, what: string, at: number): Region {
    const { offset, limit } = this.locate(addr, what, at);
    if (size > BigInt(limit - offset)) throw new ElfFormatError(`${what} (0x${size.toString(16)} bytes) runs past its segment`, at, addr);
    return { offset, end: offset + Number(size) };
  }
}

/** The dynamic array decoded as glibc and musl do: by tag, where the last entry of a tag wins. */
class Dynamic {
  readonly entries: DynamicEntry[] = [];
  private readonly last = new Map<number, number>();
  private readonly at: number[] = [];
  constructor(r: ByteReader, region: Region, relocatedBy: bigint | undefined) {
    for (let o = region.offset; o + DYN64_SIZE <= region.end; o += DYN64_SIZE) {
      const rawTag = r.i64(o);
      if (rawTag < BigInt(Number.MIN_SAFE_INTEGER) || rawTag > BigInt(Number.MAX_SAFE_INTEGER)) {
        // No tag is defined out there: ld.so ignores it as it ignores every unknown tag.
        this.entries.push({ d_tag: Number(rawTag), d_val: r.u64(o + 8), d_tag_raw: rawTag });
        this.at.push(o);
        continue;
      }
      const d_tag = Number(rawTag);
      if (d_tag === DT_NULL) break;
      this.last.set(d_tag, this.entries.length);
      this.entries.push({ d_tag, d_val: r.u64(o + 8) });
      this.at.push(o);
    }
    if (relocatedBy === undefined) return;
    for (const tag of GLIBC_RELOCATED_TAGS) {
      const i = this.last.get(tag);
      if (i === undefined) continue;
      const e = this.entries[i]!;
      if (e.d_val < relocatedBy) throw new ElfFormatError(`relocated ${DT.name(tag)} lies below loadBase`, this.at[i]! + 8, e.d_val);
      e.d_val -= relocatedBy;
    }
  }
  value(tag: number): bigint | undefined {
    const i = this.last.get(tag);
    return i === undefined ? undefined : this.entries[i]!.d_val;
  }
  /** The offset of the d_un that value() reads (for error reports); 0 when the tag is absent. */
  where(tag: number): number {
    const i = this.last.get(tag);
    return i === undefined ? 0 : this.at[i]! + 8;
  }
  /** All entries with this tag, each with the offset of its d_un. */
  *all(tag: number): Generator<[bigint, number]> {
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]!.d_tag === tag) yield [this.entries[i]!.d_val, this.at[i]! + 8];
  }
}

/** DT_HASH words are 8 bytes on 64-bit Alpha and S/390 (glibc's Elf_Symndx; readelf's hash_ent_size), 4 elsewhere. */
function hashWordSize(e_machine: number): 4 | 8 {
  return e_machine === EM_ALPHA || e_machine === EM_S390 || e_machine === EM_S390_OLD ? 8 : 4;
}

function readSysvHash(r: ByteReader, loc: Located, word: 4 | 8): SysvHashTable {
  tableRegion(loc.offset, 2, word, loc.limit, 'DT_HASH header');
  const read = (o: number): number => {
    if (word === 4) return r.u32(o);
    const v = r.u64(o);
    if (v > 0xffffffffn) throw new ElfFormatError('DT_HASH word does not fit a symbol index', o, v);
    return Number(v);
  };
  const nbucket = read(loc.offset);
  const nchain = read(loc.offset + word);
  if (nbucket === 0) throw new ElfFormatError('DT_HASH nbucket is 0', loc.offset, nbucket);
  const all = tableRegion(loc.offset + 2 * word, nbucket + nchain, word, loc.limit, 'DT_HASH buckets and chains');
  const split = all.offset + word * nbucket;
  if (word === 4) return { nbucket, nchain, buckets: copyU32(r, { offset: all.offset, end: split }), chains: copyU32(r, { offset: split, end: all.end }) };
  const buckets = new Uint32Array(nbucket);
  const chains = new Uint32Array(nchain);
  for (let i = 0; i < nbucket; i++) buckets[i] = read(all.offset + 8 * i);
  for (let i = 0; i < nchain; i++) chains[i] = read(split + 8 * i);
  return { nbucket, nchain, buckets, chains };
}

/**
 * Reads DT_GNU_HASH and counts the dynamic symbols as ld.so and readelf do: the highest bucket
 * start, then its chain to the end bit. Symbols below symoffset are not hashed, so with every
 * bucket empty the count is symoffset.
 */
function readGnuHash(r: ByteReader, loc: Located): { table: GnuHashTable; symbolCount: number } {
  tableRegion(loc.offset, 4, 4, loc.limit, 'DT_GNU_HASH header');
  const nbuckets = r.u32(loc.offset);
  const symoffset = r.u32(loc.offset + 4);
  const bloomSize = r.u32(loc.offset + 8);
  const bloomShift = r.u32(loc.offset + 12);
  if (nbuckets === 0) throw new ElfFormatError('DT_GNU_HASH nbuckets is 0', loc.offset, nbuckets);
  // ld.so masks the bloom index with bloomSize-1 (and asserts a power of two).
  if (bloomSize === 0 || (bloomSize & (bloomSize - 1)) !== 0) {
    throw new ElfFormatError('DT_GNU_HASH bloom size is not a power of two', loc.offset + 8, bloomSize);
  }
  const bloom = tableRegion(loc.offset + 16, bloomSize, 8, loc.limit, 'DT_GNU_HASH bloom filter');
  const buckets = copyU32(r, tableRegion(bloom.end, nbuckets, 4, loc.limit, 'DT_GNU_HASH buckets'));
  const chainStart = bloom.end + 4 * nbuckets;
  let top = 0;
  for (let i = 0; i < buckets.length; i++) if (buckets[i]! > top) top = buckets[i]!;
  let symbolCount = symoffset;
  if (top !== 0) {
    if (top < symoffset) throw new ElfFormatError('DT_GNU_HASH bucket points below symoffset', chainStart, top);
    let i = top;
    for (;;) {
      const o = chainStart + 4 * (i - symoffset);
      if (o + 4 > loc.limit) throw new ElfFormatError('DT_GNU_HASH chain runs off the table with no end bit', o, i);
      i++;
      if ((r.u32(o) & 1) !== 0) break;
    }
    symbolCount = i;
  }
  const chainLength = symbolCount - symoffset;
  const chain = copyU32(r, { offset: chainStart, end: chainStart + 4 * chainLength });
  return { table: { nbuckets, symoffset, bloomSize, bloomShift, bloom: copyU64(r, bloom), buckets, chain }, symbolCount };
}

/** Small values (sizes, 0 for undefined symbols) share one bigint each: a million symbols allocate half as much. */
const SMALL_BIGINTS = Array.from({ length: 1 << 12 }, (_, i) => BigInt(i));

function u64(view: DataView, o: number): bigint {
  const lo = view.getUint32(o, true);
  return lo < SMALL_BIGINTS.length && view.getUint32(o + 4, true) === 0 ? SMALL_BIGINTS[lo]! : view.getBigUint64(o, true);
}

function readSymbols(r: ByteReader, table: Region, strings: StringTable): ElfSymbol[] {
  const view = r.view;
  const bytes = r.bytes;
  const symbols: ElfSymbol[] = new Array((table.end - table.offset) / SYM64_SIZE);
  for (let i = 0, o = table.offset; o < table.end; i++, o += SYM64_SIZE) {
    const st_name = view.getUint32(o, true);
    const st_info = bytes[o + 4]!;
    const st_other = bytes[o + 5]!;
    symbols[i] = {
      name: st_name === 0 ? '' : strings.get(st_name, o),
      st_name,
      st_info,
      st_other,
      st_shndx: view.getUint16(o + 6, true),
      st_value: u64(view, o + 8),
      st_size: u64(view, o + 16),
      bind: st_info >> 4,
      type: st_info & 0xf,
      visibility: st_other & 3,
    };
  }
  return symbols;
}

/** A symbol table section with its linked string table, as Go's debug/elf checks it. */
function readSymbolSection(r: ByteReader, sections: SectionHeader[], index: number, shoff: number): ElfSymbol[] {
  const s = sections[index]!;
  const at = shoff + index * SHDR64_SIZE;
  const label = sectionLabel(s, index);
  if (s.sh_entsize !== BigInt(SYM64_SIZE)) throw new ElfFormatError(`${label} sh_entsize is not ${SYM64_SIZE}`, at + 56, s.sh_entsize);
  const table = sectionRegion(r, sections, index, shoff);
  if ((table.end - table.offset) % SYM64_SIZE !== 0) throw new ElfFormatError(`${label} size is not a multiple of ${SYM64_SIZE}`, at + 32, s.sh_size);
  if (s.sh_link === 0 || s.sh_link >= sections.length) throw new ElfFormatError(`${label} sh_link is not a section`, at + 40, s.sh_link);
  if (sections[s.sh_link]!.sh_type !== SHT_STRTAB) throw new ElfFormatError(`${label} sh_link is not a string table`, at + 40, s.sh_link);
  return readSymbols(r, table, new StringTable(r.bytes, sectionRegion(r, sections, s.sh_link, shoff), `${label}'s string table`));
}

function machineName(e_machine: number): string {
  if (e_machine === EM_X86_64) return 'x86_64';
  if (e_machine === EM_AARCH64) return 'aarch64';
  return EM.name(e_machine);
}

/**
 * Where a file's PT_DYNAMIC is. ld.so finds .dynamic by p_vaddr alone (l_ld), through the
 * PT_LOAD that maps it, and never looks at p_offset; readelf goes by p_offset. Where the two
 * agree there is nothing to decide. Where they differ, the address wins (that is what runs) and
 * a warning says so. A separate debug file (eu-strip -f, objcopy --only-keep-debug) keeps the
 * program headers of the stripped file but its .dynamic is SHT_NOBITS: it has no dynamic array,
 * and that is no fault. Only a PT_DYNAMIC that neither way reaches is an error.
 */
function dynamicInFile(r: ByteReader, p: ProgramHeader, at: number, addresses: AddressMap, sections: SectionHeader[], warnings: string[]): Region | undefined {
  let byAddress: Region | undefined;
  let addressError: ElfFormatError | undefined;
  try {
    byAddress = addresses.region(p.p_vaddr, p.p_filesz, 'PT_DYNAMIC', at + 16);
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    addressError = e;
  }
  const fits = p.p_offset >= 0n && p.p_offset + p.p_filesz <= BigInt(r.length);
  if (byAddress !== undefined) {
    if (!fits || Number(p.p_offset) !== byAddress.offset)
      warnings.push(
        `PT_DYNAMIC p_offset 0x${p.p_offset.toString(16)} is not where its address 0x${p.p_vaddr.toString(16)} lies (offset 0x${byAddress.offset.toString(16)}); read at the address, as ld.so does`,
      );
    return byAddress;
  }
  if (sections.some((s) => s.sh_type === SHT_NOBITS && s.sh_addr === p.p_vaddr && s.sh_size !== 0n)) return undefined;
  const region = regionOf(r, p.p_offset, p.p_filesz, 'PT_DYNAMIC', at + 8);
  warnings.push(`PT_DYNAMIC address 0x${p.p_vaddr.toString(16)}: ${addressError!.what}; read at p_offset 0x${p.p_offset.toString(16)}, which ld.so would not`);
  return region;
}

/** Decodes an ELF64 little-endian object. Throws ElfFormatError for any malformed input. */
export function readElf(bytes: Uint8Array, options: ReadOptions = {}): ElfFile {
  const layout = options.layout ?? 'file';
  if (layout !== 'file' && layout !== 'memory') throw new TypeError(`readElf: layout must be 'file' or 'memory', not ${String(layout)}`);
  const memory = layout === 'memory';
  let relocatedBy: bigint | undefined;
  if (memory && options.dynamicRelocated) {
    if (typeof options.loadBase !== 'bigint') throw new TypeError('readElf: dynamicRelocated needs loadBase (a bigint)');
    relocatedBy = options.loadBase;
  }
  const r = new ByteReader(bytes);
  const header = readHeader(r);
  const sections = memory ? [] : readSections(r, header);
  const shoff = sections.length > 0 ? Number(header.e_shoff) : 0;
  const segments = readSegments(r, header, sections);
  const addresses = new AddressMap(r, segments, memory, Number(header.e_phoff));

  const warnings: string[] = [];
  const dynIndex = segments.findIndex((p) => p.p_type === PT_DYNAMIC);
  let dynRegion: Region | undefined;
  if (dynIndex >= 0) {
    const p = segments[dynIndex]!;
    const at = Number(header.e_phoff) + dynIndex * PHDR64_SIZE;
    dynRegion = memory ? addresses.region(p.p_vaddr, p.p_filesz, 'PT_DYNAMIC', at + 16) : dynamicInFile(r, p, at, addresses, sections, warnings);
  } else {
    const i = sections.findIndex((s) => s.sh_type === SHT_DYNAMIC);
    if (i >= 0) dynRegion = sectionRegion(r, sections, i, shoff);
  }
  const dyn = new Dynamic(r, dynRegion ?? { offset: 0, end: 0 }, relocatedBy);

  let dynstr: StringTable | undefined;
  const strtab = dyn.value(DT_STRTAB);
  if (strtab !== undefined) {
    const at = dyn.where(DT_STRTAB);
    const size = dyn.value(DT_STRSZ);
    const loc = addresses.locate(strtab, 'DT_STRTAB', at);
    const region = size === undefined ? { offset: loc.offset, end: loc.limit } : addresses.region(strtab, size, 'DT_STRTAB', at);
    dynstr = new StringTable(bytes, region, 'DT_STRTAB');
  }
  const dynString = (value: bigint, at: number): string => {
    if (dynstr === undefined) throw new ElfFormatError('a dynamic string tag needs DT_STRTAB', at);
    return dynstr.get(toNumber(value, 'dynamic string index', at), at);
  };
  const needed = [...dyn.all(DT_NEEDED)].map(([v, at]) => dynString(v, at));
  const sonameValue = dyn.value(DT_SONAME);
  const soname = sonameValue === undefined ? undefined : dynString(sonameValue, dyn.where(DT_SONAME));

  const hashAddr = dyn.value(DT_HASH);
  const hashLoc = hashAddr === undefined ? undefined : addresses.locate(hashAddr, 'DT_HASH', dyn.where(DT_HASH));
  const sysvHash = hashLoc === undefined ? undefined : readSysvHash(r, hashLoc, hashWordSize(header.e_machine));
  const gnuAddr = dyn.value(DT_GNU_HASH);
  const gnuLoc = gnuAddr === undefined ? undefined : addresses.locate(gnuAddr, 'DT_GNU_HASH', dyn.where(DT_GNU_HASH));
  const gnu = gnuLoc === undefined ? undefined : readGnuHash(r, gnuLoc);

  const syment = dyn.value(DT_SYMENT);
  if (syment !== undefined && syment !== BigInt(SYM64_SIZE)) throw new ElfFormatError(`DT_SYMENT is not ${SYM64_SIZE}`, dyn.where(DT_SYMENT), syment);
  let dynamicSymbols: ElfSymbol[] = [];
  const dynsymIndex = sections.findIndex((s) => s.sh_type === SHT_DYNSYM);
  const symtabAddr = dyn.value(DT_SYMTAB);
  if (dynsymIndex >= 0) {
    dynamicSymbols = readSymbolSection(r, sections, dynsymIndex, shoff);
  } else if (symtabAddr !== undefined) {
    const at = dyn.where(DT_SYMTAB);
    if (dynstr === undefined) throw new ElfFormatError('DT_SYMTAB needs DT_STRTAB', at);
    const count = sysvHash?.nchain ?? gnu?.symbolCount ?? 0;
    const loc = addresses.locate(symtabAddr, 'DT_SYMTAB', at);
    dynamicSymbols = readSymbols(r, tableRegion(loc.offset, count, SYM64_SIZE, loc.limit, 'DT_SYMTAB'), dynstr);
  }

  const versymAddr = dyn.value(DT_VERSYM);
  let versym: Uint16Array | undefined;
  if (versymAddr !== undefined && dynamicSymbols.length > 0) {
    const loc = addresses.locate(versymAddr, 'DT_VERSYM', dyn.where(DT_VERSYM));
    const table = tableRegion(loc.offset, dynamicSymbols.length, 2, loc.limit, 'DT_VERSYM');
    versym = new Uint16Array(dynamicSymbols.length);
    for (let i = 0; i < versym.length; i++) versym[i] = r.u16(table.offset + 2 * i);
  }
  const versions = readVersions(r, dyn, addresses, dynString, sections, shoff);
  const slots = versionSlots(versions.definitions, versions.needs);

  const symtabIndex = sections.findIndex((s) => s.sh_type === SHT_SYMTAB);
  const symbols = symtabIndex >= 0 ? readSymbolSection(r, sections, symtabIndex, shoff) : [];

  const symbolSections = new Map<number, ElfSymbol[]>([[symtabIndex, symbols]]);
  const relocationTables = readRelocationTables({
    r,
    e_machine: header.e_machine,
    sections,
    shoff,
    dynamicSymbols,
    dynsymSection: dynsymIndex,
    value: (tag) => dyn.value(tag),
    where: (tag) => dyn.where(tag),
    region: (addr, size, what, at) => addresses.region(addr, size, what, at),
    sectionBytes: (i) => (sections[i]!.sh_type === SHT_NOBITS ? undefined : sectionRegion(r, sections, i, shoff)),
    symbolSection: (i) => {
      let syms = symbolSections.get(i);
      if (syms === undefined) symbolSections.set(i, (syms = readSymbolSection(r, sections, i, shoff)));
      return syms;
    },
    warnings,
  });
  const relocations = relocationTables.flatMap((t) => t.entries);
  const notes = readAllNotes(r, header, sections, shoff, segments, addresses, memory, warnings);

  const at = { sysv: hashLoc?.offset ?? 0, gnu: gnuLoc?.offset ?? 0 };
  let unwind: { value: UnwindInfo | undefined } | undefined;
  const file: ElfFile = {
    header,
    machine: machineName(header.e_machine),
    segments,
    sections,
    dynamic: dyn.entries,
    soname,
    needed,
    dynamicSymbols,
    symbols,
    sysvHash,
    gnuHash: gnu?.table,
    versym,
    versionDefinitions: versions.definitions,
    versionNeeds: versions.needs,
    // Built on first use: most readers never ask, and libc has 3,000 of them.
    get symbolVersions() {
      const value = versym === undefined ? [] : symbolVersions(versym, slots);
      Object.defineProperty(this, 'symbolVersions', { value, enumerable: true });
      return value;
    },
    relocations,
    relocationTables,
    notes,
    buildId: notes.find((n) => n.buildId !== undefined)?.buildId,
    warnings,
    get unwind() {
      // Decoded on first use: libc has thousands of FDEs, and most readers only want symbols.
      unwind ??= { value: readUnwindInfo(bytes, sections, segments, (a, w, o) => addresses.locate(a, w, o), shoff, Number(header.e_phoff)) };
      return unwind.value;
    },
    section: (name) => sections.find((s) => s.name === name),
    lookup: (name, version) => lookup(file, name, version === undefined ? undefined : { name: version, hash: elfHash(utf8Bytes(version)), slots }, at),
    versionedName: (index) => {
      const sym = dynamicSymbols[index];
      if (sym === undefined) throw new RangeError(`no dynamic symbol ${index}`);
      return versionedName(sym, file.symbolVersions[index]);
    },
  };
  return file;
}

/** `at` holds the input offsets of the hash tables, for error reports. */
function lookup(file: ElfFile, name: string, version: WantedVersion | undefined, at: { sysv: number; gnu: number }): ElfSymbol | undefined {
  const key = utf8Bytes(name);
  const m = new Match(name, file.dynamicSymbols, file.versym, version);
  const gnu = file.gnuHash;
  if (gnu !== undefined) {
    const h = gnuHash(key);
    const word = gnu.bloom[(h >>> 6) & (gnu.bloomSize - 1)]!;
    if (((word >> BigInt(h & 63)) & (word >> BigInt((h >>> gnu.bloomShift) & 63)) & 1n) === 0n) return undefined;
    const start = gnu.buckets[h % gnu.nbuckets]!;
    if (start === 0) return undefined;
    if (start < gnu.symoffset) throw new ElfFormatError('DT_GNU_HASH bucket points below symoffset', at.gnu, start);
    for (let i = start; ; i++) {
      const link = i - gnu.symoffset;
      if (link >= gnu.chain.length) throw new ElfFormatError('DT_GNU_HASH chain runs off the table with no end bit', at.gnu, i);
      const ch = gnu.chain[link]!;
      if ((ch ^ h) >>> 1 === 0 && m.test(i, at.gnu)) break;
      if ((ch & 1) !== 0) break;
    }
    return m.result();
  }
  const sysv = file.sysvHash;
  if (sysv === undefined) return undefined;
  let steps = 0;
  for (let i = sysv.buckets[elfHash(key) % sysv.nbucket]!; i !== STN_UNDEF; i = sysv.chains[i]!) {
    if (i >= sysv.nchain) throw new ElfFormatError('DT_HASH chain index is past nchain', at.sysv, i);
    if (++steps > sysv.nchain) throw new ElfFormatError('DT_HASH chain loops', at.sysv, i);
    if (m.test(i, at.sysv)) break;
  }
  return m.result();
}
/**
 * readelf -n's choice: the note sections, else the note segments. A malformed note is a
 * warning, not an error: the loader reads none but PT_GNU_PROPERTY, and ignores a bad one.
 */
function readAllNotes(
  r: ByteReader,
  header: ElfHeader,
  sections: SectionHeader[],
  shoff: number,
  segments: ProgramHeader[],
  addresses: AddressMap,
  memory: boolean,
  warnings: string[],
): DecodedNote[] {
  const out: DecodedNote[] = [];
  const add = (source: string, region: () => Region, align: bigint): void => {
    try {
      const { offset, end } = region();
      for (const n of readNotes(r.bytes, offset, end - offset, Number(align))) out.push(decodeNote(n, source, header.e_machine));
    } catch (e) {
      if (!(e instanceof ElfFormatError)) throw e;
      warnings.push(`${source}: ${e.message}`);
    }
  };
  if (sections.length > 0) {
    sections.forEach((s, i) => {
      if (s.sh_type === SHT_NOTE) add(sectionLabel(s, i), () => sectionRegion(r, sections, i, shoff), s.sh_addralign);
    });
    return out;
  }
  segments.forEach((p, i) => {
    if (p.p_type !== PT_NOTE) return;
    const at = Number(header.e_phoff) + i * PHDR64_SIZE;
    add(
      `PT_NOTE ${i}`,
      () => (memory ? addresses.region(p.p_vaddr, p.p_filesz, 'PT_NOTE', at + 16) : regionOf(r, p.p_offset, p.p_filesz, 'PT_NOTE', at + 8)),
      p.p_align,
    );
  });
  return out;
}

/** dlvsym's r_found_version: a name, its ELF hash, and the object's version slots to match against. */
interface WantedVersion {
  name: string;
  hash: number;
  slots: Map<number, VersionSlot>;
}

/** The version tables, from the dynamic array as ld.so reads them, else from the sections. */
function readVersions(
  r: ByteReader,
  dyn: Dynamic,
  addresses: AddressMap,
  dynString: (value: bigint, at: number) => string,
  sections: SectionHeader[],
  shoff: number,
): { definitions: VersionDefinition[]; needs: VersionNeed[] } {
  const area = (tag: number, countTag: number, sectionType: number, what: string): [VersionArea, (i: number, at: number) => string] | undefined => {
    const addr = dyn.value(tag);
    const countValue = dyn.value(countTag);
    if (addr !== undefined) {
      const loc = addresses.locate(addr, what, dyn.where(tag));
      const count = countValue === undefined ? undefined : toNumber(countValue, DT.name(countTag), dyn.where(countTag));
      return [{ offset: loc.offset, limit: loc.limit, count, what }, (i, at) => dynString(BigInt(i), at)];
    }
    const index = sections.findIndex((s) => s.sh_type === sectionType);
    if (index < 0 || sections[index]!.sh_type === SHT_NOBITS) return undefined;
    const s = sections[index]!;
    const region = sectionRegion(r, sections, index, shoff);
    const at = shoff + index * SHDR64_SIZE;
    if (s.sh_link === 0 || s.sh_link >= sections.length || sections[s.sh_link]!.sh_type !== SHT_STRTAB)
      throw new ElfFormatError(`${sectionLabel(s, index)} sh_link is not a string table`, at + 40, s.sh_link);
    const strings = new StringTable(r.bytes, sectionRegion(r, sections, s.sh_link, shoff), `${sectionLabel(s, index)}'s string table`);
    return [{ offset: region.offset, limit: region.end, count: s.sh_info, what: s.name }, (i, at) => strings.get(i, at)];
  };
  const def = area(DT_VERDEF, DT_VERDEFNUM, SHT_GNU_VERDEF, 'DT_VERDEF');
  const need = area(DT_VERNEED, DT_VERNEEDNUM, SHT_GNU_VERNEED, 'DT_VERNEED');
  return {
    definitions: def === undefined ? [] : readVersionDefinitions(r, def[0], def[1]),
    needs: need === undefined ? [] : readVersionNeeds(r, need[0], need[1]),
  };
}

/** glibc's check_match and the binding checks of do_lookup_x, for one name in one object. */
class Match {
  private found: ElfSymbol | undefined;
  private versioned: ElfSymbol | undefined;
  private versions = 0;
  constructor(
    private readonly name: string,
    private readonly symbols: ElfSymbol[],
    private readonly versym: Uint16Array | undefined,
    private readonly version: WantedVersion | undefined,
  ) {}

  /** True when the search stops at symbol `index`. */
  test(index: number, at: number): boolean {
    const sym = this.symbols[index];
    if (sym === undefined) throw new ElfFormatError('hash table names a symbol past the dynamic symbol table', at, index);
    if (sym.st_shndx === SHN_UNDEF || (sym.st_value === 0n && sym.st_shndx !== SHN_ABS && sym.type !== STT_TLS)) return false;
    if (((1 << sym.type) & ALLOWED_STT) === 0 || sym.name !== this.name) return false;
    const v = this.versym?.[index];
    if (this.version !== undefined) {
      // dlvsym asks for a hidden match: the symbol's version must be this one, by hash and
      // name; an object without DT_VERSYM offers every symbol under any version.
      if (v === undefined) {
        if (this.versym !== undefined) return false;
      } else {
        const slot = this.version.slots.get(v & 0x7fff);
        if (slot === undefined || slot.hash !== this.version.hash || slot.name !== this.version.name) return false;
      }
      this.found = sym;
      return true;
    }
    // dlsym wants the default version: it skips versioned definitions, and falls back to one
    // only when exactly one non-hidden version exists.
    if (v !== undefined && (v & 0x7fff) >= 2) {
      if ((v & VERSYM_HIDDEN) === 0 && this.versions++ === 0) this.versioned = sym;
      return false;
    }
    this.found = sym;
    return true;
  }

  result(): ElfSymbol | undefined {
    const sym = this.found ?? (this.versions === 1 ? this.versioned : undefined);
    if (sym === undefined) return undefined;
    if (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL) return undefined;
    if (sym.bind !== STB_GLOBAL && sym.bind !== STB_WEAK && sym.bind !== STB_GNU_UNIQUE) return undefined;
    return sym;
  }
}
