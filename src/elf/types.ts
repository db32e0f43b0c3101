// The decoded ELF64 model shared by the writer and the reader. Field names are the spec's.

/** The architectures dlbind writes and runs: x86_64 and aarch64, both little-endian ELF64. */
export type Machine = 'x86_64' | 'aarch64';

/** The ELF header (Elf64_Ehdr), with e_ident's class, data, OS/ABI and ABI version split out. */
export interface ElfHeader {
  /** e_ident[EI_CLASS]: 2 for ELF64. */
  ei_class: number;
  /** e_ident[EI_DATA]: 1 for little-endian. */
  ei_data: number;
  /** e_ident[EI_OSABI]: 0 (System V) or 3 (GNU/Linux). */
  ei_osabi: number;
  /** e_ident[EI_ABIVERSION]: 0 for what dlbind writes. */
  ei_abiversion: number;
  /** ET_REL, ET_EXEC, ET_DYN or ET_CORE (names in `elf.ET`). */
  e_type: number;
  /** EM_X86_64 (62) or EM_AARCH64 (183); names in `elf.EM`. */
  e_machine: number;
  /** EV_CURRENT (1). */
  e_version: number;
  /** The entry point's virtual address, 0 for a library without one. */
  e_entry: bigint;
  /** File offset of the program header table. */
  e_phoff: bigint;
  /** File offset of the section header table, 0 when there is none. */
  e_shoff: bigint;
  /** Processor flags (0 on x86_64 and aarch64). */
  e_flags: number;
  /** Size of this header: 64. */
  e_ehsize: number;
  /** Size of a program header: 56. */
  e_phentsize: number;
  /** Number of program headers. */
  e_phnum: number;
  /** Size of a section header: 64. */
  e_shentsize: number;
  /** Number of section headers (0 when there are none). */
  e_shnum: number;
  /** Index of the section holding the section names (SHN_UNDEF when none). */
  e_shstrndx: number;
}

/** A program header (Elf64_Phdr): one segment. */
export interface ProgramHeader {
  /** PT_LOAD, PT_DYNAMIC, PT_GNU_EH_FRAME, ... (names in `elf.PT`). */
  p_type: number;
  /** PF_R, PF_W and PF_X bits. */
  p_flags: number;
  /** File offset of the segment's first byte. */
  p_offset: bigint;
  /** Virtual address of the segment's first byte (relative to the load base in a library). */
  p_vaddr: bigint;
  /** Physical address; equal to p_vaddr on Linux. */
  p_paddr: bigint;
  /** Bytes of the segment in the file. */
  p_filesz: bigint;
  /** Bytes of the segment in memory (more than p_filesz for .bss). */
  p_memsz: bigint;
  /** Alignment: p_vaddr and p_offset are congruent modulo this (the page size for PT_LOAD). */
  p_align: bigint;
}

/** A section header (Elf64_Shdr), with its name resolved. */
export interface SectionHeader {
  /** The name resolved through .shstrtab ('' when there is none). */
  name: string;
  /** Offset of the name in the section name table. */
  sh_name: number;
  /** SHT_PROGBITS, SHT_DYNSYM, SHT_NOBITS, ... (names in `elf.SHT`). */
  sh_type: number;
  /** SHF_ALLOC, SHF_WRITE, SHF_EXECINSTR, ... bits. */
  sh_flags: bigint;
  /** Virtual address in memory, 0 for a section not loaded. */
  sh_addr: bigint;
  /** File offset of the section's bytes. */
  sh_offset: bigint;
  /** Size in bytes (in memory only, for SHT_NOBITS). */
  sh_size: bigint;
  /** A related section's index (a symbol table's string table, a relocation table's symbol table). */
  sh_link: number;
  /** Extra information: a symbol table's first non-local index, a relocation table's target section. */
  sh_info: number;
  /** Alignment of sh_addr (0 or 1: none). */
  sh_addralign: bigint;
  /** Size of one entry for tables of fixed-size entries, else 0. */
  sh_entsize: bigint;
}

/** A symbol table entry (Elf64_Sym), with its name resolved and st_info and st_other decoded. */
export interface ElfSymbol {
  /** The name resolved through the linked string table. */
  name: string;
  /** Offset of the name in the linked string table. */
  st_name: number;
  /** Binding (high 4 bits) and type (low 4 bits); see `bind` and `type`. */
  st_info: number;
  /** Visibility in the low 2 bits; see `visibility`. */
  st_other: number;
  /** Index of the section the symbol is defined in; SHN_UNDEF for an undefined one, SHN_ABS for an absolute one. */
  st_shndx: number;
  /** The symbol's address (relative to the load base in a library), or its value. */
  st_value: bigint;
  /** The size of the object or function, 0 when unknown. */
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
  /** Where the relocation applies: a virtual address (in a library) or a section offset (in ET_REL). */
  r_offset: bigint;
  /** Symbol index (high 32 bits) and relocation type (low 32 bits); see `sym` and `type`. */
  r_info: bigint;
  /** The constant addend (0n for an Elf64_Rel entry, whose addend is in the relocated field). */
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
  /** Elf64_Rela entries, Elf64_Rel entries, or RELR address and bitmap words. */
  format: 'rela' | 'rel' | 'relr';
  /** The section that holds it, when section headers name one (.rela.dyn, .rela.plt, .rela.text). */
  section?: number;
  /** The section the relocations apply to (sh_info), when the table's section names one (ET_REL: .rela.text applies to .text). */
  appliesTo?: number;
  /** Where the symbol indexes point: the dynamic symbols, or a symbol table section (sh_link, usually .symtab); 'none' for sh_link 0. */
  symbols: 'dynamic' | 'none' | number;
  /** Input offset and byte size of the table. */
  offset: number;
  /** Byte size of the table. */
  size: number;
  /** Elf64_Rela/Elf64_Rel entries; empty for RELR. */
  entries: Relocation[];
  /** RELR only: the addresses its address and bitmap words stand for (each gets base + its word, R_*_RELATIVE). */
  addresses?: BigUint64Array;
}

/** A version definition (Elf64_Verdef with its Elf64_Verdaux names): `name`, then its parents. */
export interface VersionDefinition {
  /** The structure's version: 1. */
  vd_version: number;
  /** VER_FLG_BASE for the definition naming the file itself, VER_FLG_WEAK, or 0. */
  vd_flags: number;
  /** The version index symbols carry in .gnu.version. */
  vd_ndx: number;
  /** Number of Elf64_Verdaux names: the version and its parents. */
  vd_cnt: number;
  /** The ELF hash of the version name. */
  vd_hash: number;
  /** The version's name. */
  name: string;
  /** The versions it inherits from (as `V2 { } V1;` lists them). */
  parents: string[];
  /** Input offset of the Elf64_Verdef. */
  offset: number;
}

/** A version need (Elf64_Verneed): the versions (Elf64_Vernaux) this object needs from `file`. */
export interface VersionNeed {
  /** The structure's version: 1. */
  vn_version: number;
  /** The library (DT_NEEDED name) that must provide the versions. */
  file: string;
  /** The versions needed from `file` (Elf64_Vernaux): name, ELF hash, flags, index (vna_other), and input offset. */
  versions: {
    /** The version's name, e.g. 'GLIBC_2.14'. */
    name: string;
    /** The ELF hash of the name. */
    vna_hash: number;
    /** VER_FLG_WEAK or 0. */
    vna_flags: number;
    /** The version index symbols carry in .gnu.version. */
    vna_other: number;
    /** Input offset of the Elf64_Vernaux. */
    offset: number;
  }[];
  /** Input offset of the Elf64_Verneed. */
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
  /** Number of hash buckets. */
  nbucket: number;
  /** Number of chain words: the number of symbols in the dynamic symbol table. */
  nchain: number;
  /** Per bucket, the first symbol index of its chain (0: empty). */
  buckets: Uint32Array;
  /** Per symbol, the next symbol index in its chain (0: the end). */
  chains: Uint32Array;
}

/** DT_GNU_HASH: a bloom filter, buckets, and one hash value per hashed symbol. */
export interface GnuHashTable {
  /** Number of hash buckets. */
  nbuckets: number;
  /** Index of the first dynamic symbol the table covers; those before it are not hashed. */
  symoffset: number;
  /** Number of 64-bit bloom filter words (a power of two). */
  bloomSize: number;
  /** The shift of the bloom filter's second hash bit. */
  bloomShift: number;
  /** The bloom filter words. */
  bloom: BigUint64Array;
  /** Per bucket, the lowest symbol index with that bucket (0: empty). */
  buckets: Uint32Array;
  /** Hash values of symbols symoffset.. (one per dynamic symbol at or past symoffset). */
  chain: Uint32Array;
}
