// The decoded ELF64 model shared by the writer and the reader. Field names are the spec's.

/** The architectures dlbind writes and runs: x86_64 and aarch64, both little-endian ELF64. */
export type Machine = 'x86_64' | 'aarch64';

/** The ELF header (Elf64_Ehdr), with e_ident's class, data, OS/ABI and ABI version split out. */
export interface ElfHeader {
  /** e_ident[EI_CLASS]: 2 for ELF64. */
  ei_class: number;
  /** e_ident[EI_DATA]: 1 for little-endian. */
  ei_data: number;
  ei_osabi: number;
  ei_abiversion: number;
  e_type: number;
  e_machine: number;
  e_version: number;
  e_entry: bigint;
  e_phoff: bigint;
  e_shoff: bigint;
  e_flags: number;
  e_ehsize: number;
  e_phentsize: number;
  e_phnum: number;
  e_shentsize: number;
  e_shnum: number;
  e_shstrndx: number;
}

/** A program header (Elf64_Phdr): one segment. */
export interface ProgramHeader {
  p_type: number;
  p_flags: number;
  p_offset: bigint;
  p_vaddr: bigint;
  p_paddr: bigint;
  p_filesz: bigint;
  p_memsz: bigint;
  p_align: bigint;
}

/** A section header (Elf64_Shdr), with its name resolved. */
export interface SectionHeader {
  /** The name resolved through .shstrtab ('' when there is none). */
  name: string;
  sh_name: number;
  sh_type: number;
  sh_flags: bigint;
  sh_addr: bigint;
  sh_offset: bigint;
  sh_size: bigint;
  sh_link: number;
  sh_info: number;
  sh_addralign: bigint;
  sh_entsize: bigint;
}

/** A symbol table entry (Elf64_Sym), with its name resolved and st_info and st_other decoded. */
export interface ElfSymbol {
  /** The name resolved through the linked string table. */
  name: string;
  st_name: number;
  st_info: number;
  st_other: number;
  st_shndx: number;
  st_value: bigint;
  st_size: bigint;
  /** ELF64_ST_BIND(st_info) */
  bind: number;
  /** ELF64_ST_TYPE(st_info) */
  type: number;
  /** st_other & 3 */
  visibility: number;
}

/** One entry of the dynamic array (Elf64_Dyn). */
export interface DynamicEntry {
  /** d_tag as a number (tags are small or in the OS/processor ranges). */
  d_tag: number;
  /** d_un, as d_val or d_ptr. */
  d_val: bigint;
  /** The exact d_tag when it lies beyond ±2^53 (d_tag is then the nearest number); ld.so ignores such tags, and so does the reader. */
  d_tag_raw?: bigint;
}

/** A relocation (Elf64_Rela, or Elf64_Rel with r_addend 0n), with r_info split into symbol index and type. */
export interface Relocation {
  r_offset: bigint;
  r_info: bigint;
  r_addend: bigint;
  /** ELF64_R_SYM(r_info) */
  sym: number;
  /** ELF64_R_TYPE(r_info) */
  type: number;
  /** `R_X86_64_JUMP_SLOT`; `R(0x..)` on machines without a table (relocationTypeName). */
  typeName: string;
  /**
   * The symbol's name ('' for index 0), without a version; an STT_SECTION symbol is named by its
   * section, as readelf does. '' too when `sym` is past the table (the file's warnings say so).
   */
  symbolName: string;
}

/** One relocation table: a DT_ table of the dynamic array, or an SHT_RELA/SHT_REL/SHT_RELR section. */
export interface RelocationTable {
  /** 'DT_RELA', 'DT_REL', 'DT_JMPREL', 'DT_RELR', or the section's name for a table only a section names. */
  source: string;
  format: 'rela' | 'rel' | 'relr';
  /** The section that holds it, when section headers name one (.rela.dyn, .rela.plt, .rela.text). */
  section?: number;
  /** The section the relocations apply to (sh_info), when the table's section names one (ET_REL: .rela.text applies to .text). */
  appliesTo?: number;
  /** Where the symbol indexes point: the dynamic symbols, or a symbol table section (sh_link, usually .symtab); 'none' for sh_link 0. */
  symbols: 'dynamic' | 'none' | number;
  /** Input offset and byte size of the table. */
  offset: number;
  size: number;
  /** Elf64_Rela/Elf64_Rel entries; empty for RELR. */
  entries: Relocation[];
  /** RELR only: the addresses its address and bitmap words stand for (each gets base + its word, R_*_RELATIVE). */
  addresses?: BigUint64Array;
}

/** A version definition (Elf64_Verdef with its Elf64_Verdaux names): `name`, then its parents. */
export interface VersionDefinition {
  vd_version: number;
  vd_flags: number;
  vd_ndx: number;
  vd_cnt: number;
  vd_hash: number;
  name: string;
  parents: string[];
  /** Input offset of the Elf64_Verdef. */
  offset: number;
}

/** A version need (Elf64_Verneed): the versions (Elf64_Vernaux) this object needs from `file`. */
export interface VersionNeed {
  vn_version: number;
  file: string;
  versions: { name: string; vna_hash: number; vna_flags: number; vna_other: number; offset: number }[];
  offset: number;
}

/** A dynamic symbol's version, from DT_VERSYM and the version definitions and needs. */
export interface SymbolVersion {
  /** versym & 0x7fff: 0 local, 1 global (unversioned), 2.. a definition's vd_ndx or a need's vna_other. */
  index: number;
  /** versym bit 15: not the default version (`name@VER` rather than `name@@VER`). */
  hidden: boolean;
  /** The version's name; undefined for index 0 and 1, and for an index no definition or need has. */
  name?: string;
  /** For a needed version: the file that must provide it. */
  file?: string;
}

/** DT_HASH, the System V hash table: nbucket buckets, then one chain word per symbol. */
export interface SysvHashTable {
  nbucket: number;
  nchain: number;
  buckets: Uint32Array;
  chains: Uint32Array;
}

/** DT_GNU_HASH: a bloom filter, buckets, and one hash value per hashed symbol. */
export interface GnuHashTable {
  nbuckets: number;
  symoffset: number;
  bloomSize: number;
  bloomShift: number;
  bloom: BigUint64Array;
  buckets: Uint32Array;
  /** Hash values of symbols symoffset.. (one per dynamic symbol at or past symoffset). */
  chain: Uint32Array;
}
