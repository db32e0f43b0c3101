// Relocation tables as the reader decodes them: the dynamic array's DT_RELA, DT_REL, DT_JMPREL
// and DT_RELR (what ld.so applies), and the SHT_RELA/SHT_REL/SHT_RELR sections that only the
// section headers name (an ET_REL object's .rela.text, --emit-relocs output).
import { type ByteReader, HOST_LITTLE_ENDIAN } from './bytes.js';
import {
  DT,
  DT_JMPREL,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_REL,
  DT_RELA,
  DT_RELAENT,
  DT_RELASZ,
  DT_RELENT,
  DT_RELR,
  DT_RELRENT,
  DT_RELRSZ,
  DT_RELSZ,
  EM_AARCH64,
  EM_X86_64,
  ELF64_R_SYM,
  ELF64_R_TYPE,
  R_AARCH64_RELATIVE,
  R_X86_64_RELATIVE,
  REL64_SIZE,
  RELA64_SIZE,
  SHDR64_SIZE,
  SHT_REL,
  SHT_RELA,
  SHT_RELR,
  STT_SECTION,
  relocationTypeName,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import type { Region } from './read-region.js';
import type { ElfSymbol, Relocation, RelocationTable, SectionHeader } from './types.js';

/** What the reader knows when it reads the relocations. */
export interface RelocationSource {
  r: ByteReader;
  e_machine: number;
  sections: readonly SectionHeader[];
  /** Input offset of the section header table. */
  shoff: number;
  dynamicSymbols: readonly ElfSymbol[];
  /** The index of the section the dynamic symbols were read from, -1 if none. */
  dynsymSection: number;
  /** The last value of a dynamic tag, and the input offset of its d_un (for errors). */
  value(tag: number): bigint | undefined;
  where(tag: number): number;
  /** A table of `size` bytes at address `addr`, inside one segment's bytes. */
  region(addr: bigint, size: bigint, what: string, at: number): Region;
  /** A section's bytes; undefined for SHT_NOBITS. */
  sectionBytes(index: number): Region | undefined;
  /** The symbols of symbol table section `index` (a relocation section's sh_link). */
  symbolSection(index: number): readonly ElfSymbol[];
  warnings: string[];
}

/**
 * A RELR table stands for 63 addresses per 8-byte word at most; a hostile one that large would
 * still be capped by the input, but at 64 bytes of output per input byte. Real objects stay far
 * below this (libLLVM has a few hundred thousand relative relocations).
 */
export const MAX_RELR_ADDRESSES = 1 << 24;

const ENTRY_SIZE = { rela: RELA64_SIZE, rel: REL64_SIZE, relr: 8 } as const;

interface Located {
  source: string;
  format: RelocationTable['format'];
  region: Region;
}

/** The dynamic tables as glibc's _ELF_DYNAMIC_DO_RELOC ranges them. */
function dynamicTables(src: RelocationSource): Located[] {
  const out: Located[] = [];
  const entsize = (tag: number, want: number): void => {
    const v = src.value(tag);
    if (v !== undefined && v !== BigInt(want)) throw new ElfFormatError(`${DT.name(tag)} is not ${want}`, src.where(tag), v);
  };
  const table = (tag: number, sizeTag: number, format: Located['format']): Located | undefined => {
    const addr = src.value(tag);
    if (addr === undefined) return undefined;
    const what = DT.name(tag);
    return { source: what, format, region: src.region(addr, src.value(sizeTag) ?? 0n, what, src.where(tag)) };
  };
  entsize(DT_RELAENT, RELA64_SIZE);
  entsize(DT_RELENT, REL64_SIZE);
  entsize(DT_RELRENT, 8);
  const rela = table(DT_RELA, DT_RELASZ, 'rela');
  const rel = table(DT_REL, DT_RELSZ, 'rel');
  let jmpFormat: Located['format'] = 'rela';
  const pltrel = src.value(DT_PLTREL);
  if (pltrel === BigInt(DT_REL)) jmpFormat = 'rel';
  else if (pltrel !== undefined && pltrel !== BigInt(DT_RELA))
    throw new ElfFormatError('DT_PLTREL is neither DT_RELA nor DT_REL', src.where(DT_PLTREL), pltrel);
  const jmprel = table(DT_JMPREL, DT_PLTRELSZ, jmpFormat);
  if (jmprel !== undefined && pltrel === undefined) src.warnings.push('DT_JMPREL without DT_PLTREL: read as Elf64_Rela');
  // glibc drops the PLT relocations from DT_RELA's range when the two end together (old
  // linkers made DT_RELASZ cover .rela.plt too), so that none is applied twice.
  for (const t of [rela, rel]) {
    if (t === undefined || jmprel === undefined || t.format !== jmprel.format) continue;
    if (t.region.end === jmprel.region.end && jmprel.region.offset >= t.region.offset) {
      t.region = { offset: t.region.offset, end: jmprel.region.offset };
    }
  }
  for (const t of [rela, rel, jmprel, table(DT_RELR, DT_RELRSZ, 'relr')]) if (t !== undefined) out.push(t);
  return out;
}

const SECTION_FORMAT = new Map<number, Located['format']>([
  [SHT_RELA, 'rela'],
  [SHT_REL, 'rel'],
  [SHT_RELR, 'relr'],
]);

/** Every relocation table, ordered by input offset. */
export function readRelocationTables(src: RelocationSource): RelocationTable[] {
  const tables: RelocationTable[] = [];
  const located = dynamicTables(src);
  const claimed = new Map<Located, number>();
  src.sections.forEach((s, i) => {
    const format = SECTION_FORMAT.get(s.sh_type);
    if (format === undefined) return;
    const region = src.sectionBytes(i);
    if (region === undefined) return;
    const same = located.find((t) => t.region.offset === region.offset && t.format === format);
    if (same !== undefined && !claimed.has(same)) {
      claimed.set(same, i);
      return;
    }
    // Part of a dynamic table (a .rela.plt that DT_RELASZ covers): already read.
    if (located.some((t) => t.format === format && region.offset >= t.region.offset && region.end <= t.region.end && region.end > region.offset)) return;
    const at = sectionHeaderAt(src, i);
    const want = ENTRY_SIZE[format];
    if (s.sh_entsize !== 0n && s.sh_entsize !== BigInt(want))
      throw new ElfFormatError(`${sectionLabel(s, i)} sh_entsize is not ${want}`, at + 56, s.sh_entsize);
    let symbols: RelocationTable['symbols'] = 'none';
    if (format !== 'relr' && s.sh_link !== 0) {
      if (s.sh_link >= src.sections.length) throw new ElfFormatError(`${sectionLabel(s, i)} sh_link is not a section`, at + 40, s.sh_link);
      symbols = s.sh_link === src.dynsymSection ? 'dynamic' : s.sh_link;
    }
    tables.push(decode(src, { source: s.name, format, region }, symbols, i));
  });
  for (const t of located) tables.push(decode(src, t, 'dynamic', claimed.get(t)));
  return tables.sort((a, b) => a.offset - b.offset);
}

function sectionLabel(s: SectionHeader, i: number): string {
  return s.name === '' ? `section ${i}` : s.name;
}

function sectionHeaderAt(src: RelocationSource, i: number): number {
  return src.shoff + SHDR64_SIZE * i;
}

function decode(src: RelocationSource, t: Located, symbols: RelocationTable['symbols'], section: number | undefined): RelocationTable {
  const { offset, end } = t.region;
  const size = end - offset;
  const table: RelocationTable = { source: t.source, format: t.format, symbols, offset, size, entries: [] };
  if (section !== undefined) {
    table.section = section;
    const info = src.sections[section]!.sh_info;
    if (info !== 0 && info < src.sections.length) table.appliesTo = info;
  }
  const entsize = ENTRY_SIZE[t.format];
  if (size % entsize !== 0) throw new ElfFormatError(`${t.source}: size 0x${size.toString(16)} is not a multiple of ${entsize}`, offset, size);
  if (t.format === 'relr') {
    table.addresses = decodeRelr(src.r, t.region, t.source);
    return table;
  }
  const syms = symbols === 'dynamic' ? src.dynamicSymbols : symbols === 'none' ? [] : src.symbolSection(symbols);
  const r = src.r;
  const entries = table.entries;
  let missing = 0;
  for (let o = offset; o < end; o += entsize) {
    const r_info = r.u64(o + 8);
    const sym = ELF64_R_SYM(r_info);
    const type = ELF64_R_TYPE(r_info);
    let symbolName = '';
    if (sym !== 0) {
      const s = syms[sym];
      if (s === undefined) missing++;
      else symbolName = s.type === STT_SECTION && s.name === '' ? (src.sections[s.st_shndx]?.name ?? '') : s.name;
    }
    const rel: Relocation = {
      r_offset: r.u64(o),
      r_info,
      r_addend: t.format === 'rela' ? r.i64(o + 16) : 0n,
      sym,
      type,
      typeName: relocationTypeName(src.e_machine, type),
      symbolName,
    };
    entries.push(rel);
  }
  if (missing > 0)
    src.warnings.push(`${t.source}: ${missing} relocation${missing === 1 ? ' names a symbol' : 's name symbols'} past the ${syms.length}-entry symbol table`);
  return table;
}

/** The machine's R_*_RELATIVE, the type every DT_RELR address stands for. */
export function relativeType(e_machine: number): number | undefined {
  if (e_machine === EM_X86_64) return R_X86_64_RELATIVE;
  if (e_machine === EM_AARCH64) return R_AARCH64_RELATIVE;
  return undefined;
}

/**
 * glibc's elf_dynamic_do_Relr: an even word is an address; an odd one, a bitmap of the 63 words
 * after the last. The addresses are computed as 32-bit halves written straight into the
 * result's buffer: a BigInt per address would make a large (or hostile) table slow.
 */
function decodeRelr(r: ByteReader, region: Region, what: string): BigUint64Array {
  let count = 0;
  for (let o = region.offset; o < region.end; o += 8) {
    const lo = r.u32(o);
    if ((lo & 1) === 0) count++;
    else count += popcount(lo >>> 1) + popcount(r.u32(o + 4));
    if (count > MAX_RELR_ADDRESSES) throw new ElfFormatError(`${what} stands for more than ${MAX_RELR_ADDRESSES} addresses`, o, count);
  }
  const out = new BigUint64Array(count);
  const halves = new Uint32Array(out.buffer);
  const [LO, HI] = HOST_LITTLE_ENDIAN ? [0, 1] : [1, 0];
  let k = 0;
  let whereLo = 0;
  let whereHi = 0;
  const put = (offset: number): void => {
    const lo = whereLo + offset;
    halves[2 * k + LO] = lo >>> 0;
    halves[2 * k + HI] = (whereHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    k++;
  };
  for (let o = region.offset; o < region.end; o += 8) {
    const lo = r.u32(o);
    const hi = r.u32(o + 4);
    if ((lo & 1) === 0) {
      whereLo = lo;
      whereHi = hi;
      put(0);
      whereLo += 8;
    } else {
      for (let b = 1; b < 32; b++) if (((lo >>> b) & 1) !== 0) put(8 * (b - 1));
      for (let b = 0; b < 32; b++) if (((hi >>> b) & 1) !== 0) put(8 * (b + 31));
      whereLo += 63 * 8;
    }
    if (whereLo > 0xffffffff) {
      whereLo -= 0x100000000;
      whereHi = (whereHi + 1) >>> 0;
    }
  }
  return out;
}

function popcount(v: number): number {
  let n = v - ((v >>> 1) & 0x55555555);
  n = (n & 0x33333333) + ((n >>> 2) & 0x33333333);
  return (((n + (n >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
