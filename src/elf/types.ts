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
}

/** A relocation with addend (Elf64_Rela), with r_info split into symbol index and type. */
export interface Relocation {
  r_offset: bigint;
  r_info: bigint;
  r_addend: bigint;
  /** ELF64_R_SYM(r_info) */
  sym: number;
  /** ELF64_R_TYPE(r_info) */
  type: number;
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
