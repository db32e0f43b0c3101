/**
 * ELF64 definitions: the subset of `<elf.h>` that dlbind writes or reads, and tables that
 * name their values (`elf.PT.name(1)` is 'PT_LOAD'). Values are the spec's; names keep the
 * spec's spelling so they can be grepped against glibc's elf.h and the System V gABI.
 * @module
 */

/** A table of named constants that can print any value, known or not. */
export class ConstantTable {
  private readonly byValue = new Map<number, string>();
  /** A table of `entries` (name to value; the first name of a value is the one printed). */
  constructor(
    /** The names' common prefix, without the underscore: 'PT', 'SHT'. Unknown values print as `PT(0x9)`. */
    readonly family: string,
    entries: Record<string, number>,
    /** Named range starts, used to print unknown values as `NAME+offset` (as Go's debug/elf does). */
    private readonly ranges: ReadonlyArray<readonly [string, number]> = [],
  ) {
    for (const [name, value] of Object.entries(entries)) {
      if (!this.byValue.has(value)) this.byValue.set(value, name);
    }
  }
  /** The name of a value: `PT.name(1)` is 'PT_LOAD'; unknown values print as 'PT_LOOS+0x5' or 'PT(0x9)'. */
  name(value: number): string {
    const known = this.byValue.get(value);
    if (known !== undefined) return known;
    let best: readonly [string, number] | undefined;
    for (const range of this.ranges) {
      if (value >= range[1] && (best === undefined || range[1] > best[1])) best = range;
    }
    if (best !== undefined) return `${best[0]}+0x${(value - best[1]).toString(16)}`;
    return `${this.family}(0x${value.toString(16)})`;
  }
}

// e_ident
/** The four bytes every ELF file starts with: 0x7f 'E' 'L' 'F'. */
export const ELFMAG = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46);
/** Index of the class byte in e_ident (ELFCLASS64). */
export const EI_CLASS = 4;
/** Index of the data-encoding byte in e_ident (ELFDATA2LSB). */
export const EI_DATA = 5;
/** Index of the ELF version byte in e_ident (EV_CURRENT). */
export const EI_VERSION = 6;
/** Index of the OS/ABI byte in e_ident. */
export const EI_OSABI = 7;
/** Index of the ABI version byte in e_ident. */
export const EI_ABIVERSION = 8;
/** Size of e_ident in bytes. */
export const EI_NIDENT = 16;
/** e_ident[EI_CLASS] of a 64-bit object. */
export const ELFCLASS64 = 2;
/** e_ident[EI_DATA] of a little-endian object. */
export const ELFDATA2LSB = 1;
/** The current (and only) ELF version, in e_ident[EI_VERSION] and e_version. */
export const EV_CURRENT = 1;
/** e_ident[EI_OSABI] for the System V ABI (no OS extensions), what dlbind writes. */
export const ELFOSABI_SYSV = 0;

// e_type
/** e_type: no file type. */
export const ET_NONE = 0;
/** e_type: a relocatable object (.o). */
export const ET_REL = 1;
/** e_type: an executable at a fixed address. */
export const ET_EXEC = 2;
/** e_type: a shared object (or position-independent executable). */
export const ET_DYN = 3;
/** e_type: a core dump. */
export const ET_CORE = 4;
/** Names of e_type values: `ET.name(3)` is 'ET_DYN'. */
export const ET = new ConstantTable('ET', { ET_NONE, ET_REL, ET_EXEC, ET_DYN, ET_CORE }, [
  ['ET_LOOS', 0xfe00],
  ['ET_LOPROC', 0xff00],
]);

// e_machine
/** e_machine: no machine. */
export const EM_NONE = 0;
/** e_machine: Intel 80386. */
export const EM_386 = 3;
/** e_machine: AMD x86-64. */
export const EM_X86_64 = 62;
/** e_machine: Arm 64-bit (AArch64). */
export const EM_AARCH64 = 183;
/** e_machine: RISC-V. */
export const EM_RISCV = 243;
/** e_machine: IBM S/390. */
export const EM_S390 = 22;
/** e_machine: DEC Alpha (the unofficial value Linux uses). */
export const EM_ALPHA = 0x9026;
/** e_machine: IBM S/390, the interim value before EM_S390. */
export const EM_S390_OLD = 0xa390;
/** Names of e_machine values: `EM.name(62)` is 'EM_X86_64'. */
export const EM = new ConstantTable('EM', { EM_NONE, EM_386, EM_X86_64, EM_AARCH64, EM_RISCV, EM_S390, EM_ALPHA, EM_S390_OLD });

// Record sizes of ELF64 structures.
/** Size of Elf64_Ehdr in bytes. */
export const EHDR64_SIZE = 64;
/** Size of Elf64_Phdr in bytes. */
export const PHDR64_SIZE = 56;
/** Size of Elf64_Shdr in bytes. */
export const SHDR64_SIZE = 64;
/** Size of Elf64_Sym in bytes. */
export const SYM64_SIZE = 24;
/** Size of Elf64_Dyn in bytes. */
export const DYN64_SIZE = 16;
/** Size of Elf64_Rela in bytes. */
export const RELA64_SIZE = 24;
/** Size of Elf64_Rel in bytes. */
export const REL64_SIZE = 16;

// p_type
/** p_type: an unused entry. */
export const PT_NULL = 0;
/** p_type: a loadable segment, mapped by the loader. */
export const PT_LOAD = 1;
/** p_type: the dynamic array (.dynamic). */
export const PT_DYNAMIC = 2;
/** p_type: the path of the program interpreter (ld.so). */
export const PT_INTERP = 3;
/** p_type: notes (build-id, GNU properties; NT_* records in a core). */
export const PT_NOTE = 4;
/** p_type: reserved, unspecified semantics. */
export const PT_SHLIB = 5;
/** p_type: the program header table itself. */
export const PT_PHDR = 6;
/** p_type: the thread-local storage template. */
export const PT_TLS = 7;
/** p_type: .eh_frame_hdr, which the unwinder finds through dl_iterate_phdr. */
export const PT_GNU_EH_FRAME = 0x6474e550;
/** p_type: the stack's permissions (no PF_X: a non-executable stack). */
export const PT_GNU_STACK = 0x6474e551;
/** p_type: made read-only once relocations are applied. */
export const PT_GNU_RELRO = 0x6474e552;
/** p_type: .note.gnu.property (CET, BTI markers). */
export const PT_GNU_PROPERTY = 0x6474e553;
/** Names of p_type values: `PT.name(1)` is 'PT_LOAD'. */
export const PT = new ConstantTable(
  'PT',
  {
    PT_NULL,
    PT_LOAD,
    PT_DYNAMIC,
    PT_INTERP,
    PT_NOTE,
    PT_SHLIB,
    PT_PHDR,
    PT_TLS,
    PT_GNU_EH_FRAME,
    PT_GNU_STACK,
    PT_GNU_RELRO,
    PT_GNU_PROPERTY,
  },
  [
    ['PT_LOOS', 0x60000000],
    ['PT_LOPROC', 0x70000000],
  ],
);

// p_flags
/** p_flags: executable. */
export const PF_X = 1;
/** p_flags: writable. */
export const PF_W = 2;
/** p_flags: readable. */
export const PF_R = 4;

// Special section indexes
/** st_shndx of an undefined symbol (and the null section index). */
export const SHN_UNDEF = 0;
/** The first reserved section index. */
export const SHN_LORESERVE = 0xff00;
/** st_shndx of an absolute symbol: its value is not relative to any section. */
export const SHN_ABS = 0xfff1;
/** st_shndx of a common symbol (unallocated C tentative definition). */
export const SHN_COMMON = 0xfff2;
/** The real section index is elsewhere (e_shstrndx: in section 0's sh_link; st_shndx: in SHT_SYMTAB_SHNDX). */
export const SHN_XINDEX = 0xffff;

// sh_type
/** sh_type: an unused header. */
export const SHT_NULL = 0;
/** sh_type: bytes defined by the program (.text, .rodata, .data). */
export const SHT_PROGBITS = 1;
/** sh_type: the full symbol table (.symtab). */
export const SHT_SYMTAB = 2;
/** sh_type: a string table. */
export const SHT_STRTAB = 3;
/** sh_type: relocations with explicit addends (Elf64_Rela). */
export const SHT_RELA = 4;
/** sh_type: the System V hash table (DT_HASH). */
export const SHT_HASH = 5;
/** sh_type: the dynamic array. */
export const SHT_DYNAMIC = 6;
/** sh_type: notes. */
export const SHT_NOTE = 7;
/** sh_type: zero-filled in memory, no bytes in the file (.bss). */
export const SHT_NOBITS = 8;
/** sh_type: relocations without addends (Elf64_Rel). */
export const SHT_REL = 9;
/** sh_type: the dynamic symbol table (.dynsym). */
export const SHT_DYNSYM = 11;
/** sh_type: packed relative relocations (RELR). */
export const SHT_RELR = 19;
/** sh_type: pointers to initialisation functions. */
export const SHT_INIT_ARRAY = 14;
/** sh_type: pointers to termination functions. */
export const SHT_FINI_ARRAY = 15;
/** sh_type: the GNU hash table (DT_GNU_HASH). */
export const SHT_GNU_HASH = 0x6ffffff6;
/** sh_type: version definitions (.gnu.version_d). */
export const SHT_GNU_VERDEF = 0x6ffffffd;
/** sh_type: versions needed (.gnu.version_r). */
export const SHT_GNU_VERNEED = 0x6ffffffe;
/** sh_type: one version index per dynamic symbol (.gnu.version). */
export const SHT_GNU_VERSYM = 0x6fffffff;
/** Names of sh_type values: `SHT.name(11)` is 'SHT_DYNSYM'. */
export const SHT = new ConstantTable(
  'SHT',
  {
    SHT_NULL,
    SHT_PROGBITS,
    SHT_SYMTAB,
    SHT_STRTAB,
    SHT_RELA,
    SHT_HASH,
    SHT_DYNAMIC,
    SHT_NOTE,
    SHT_NOBITS,
    SHT_REL,
    SHT_DYNSYM,
    SHT_RELR,
    SHT_INIT_ARRAY,
    SHT_FINI_ARRAY,
    SHT_GNU_HASH,
    SHT_GNU_VERDEF,
    SHT_GNU_VERNEED,
    SHT_GNU_VERSYM,
  },
  [
    ['SHT_LOOS', 0x60000000],
    ['SHT_LOPROC', 0x70000000],
    ['SHT_LOUSER', 0x80000000],
  ],
);

// sh_flags (kept as numbers: every flag dlbind uses fits in 32 bits)
/** sh_flags: writable at run time; as a dlalloc flag, a data block. */
export const SHF_WRITE = 0x1;
/** sh_flags: occupies memory at run time. */
export const SHF_ALLOC = 0x2;
/** sh_flags: executable instructions; as a dlalloc flag, a text block. */
export const SHF_EXECINSTR = 0x4;
/** sh_flags: elements may be merged (deduplicated) by the linker. */
export const SHF_MERGE = 0x10;
/** sh_flags: NUL-terminated strings (with SHF_MERGE). */
export const SHF_STRINGS = 0x20;
/** sh_flags: sh_info holds a section index. */
export const SHF_INFO_LINK = 0x40;

// Symbol binding, type and visibility
/** Symbol binding: not visible outside the object. */
export const STB_LOCAL = 0;
/** Symbol binding: visible to every object. */
export const STB_GLOBAL = 1;
/** Symbol binding: global, but may stay undefined and yields to a global definition. */
export const STB_WEAK = 2;
/** Symbol binding (GNU): one definition in the whole process. */
export const STB_GNU_UNIQUE = 10;
/** Names of symbol bindings: `STB.name(1)` is 'STB_GLOBAL'. */
export const STB = new ConstantTable('STB', { STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE }, [
  ['STB_LOOS', 10],
  ['STB_LOPROC', 13],
]);
/** Symbol type: unspecified. */
export const STT_NOTYPE = 0;
/** Symbol type: a data object. */
export const STT_OBJECT = 1;
/** Symbol type: a function. */
export const STT_FUNC = 2;
/** Symbol type: a section (for relocations against it). */
export const STT_SECTION = 3;
/** Symbol type: the source file's name. */
export const STT_FILE = 4;
/** Symbol type: an uninitialised common block. */
export const STT_COMMON = 5;
/** Symbol type: a thread-local variable. */
export const STT_TLS = 6;
/** Symbol type (GNU): an indirect function, whose resolver returns the address. */
export const STT_GNU_IFUNC = 10;
/** Names of symbol types: `STT.name(2)` is 'STT_FUNC'. */
export const STT = new ConstantTable('STT', { STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS, STT_GNU_IFUNC }, [
  ['STT_LOOS', 10],
  ['STT_LOPROC', 13],
]);
/** Symbol visibility: as the binding says. */
export const STV_DEFAULT = 0;
/** Symbol visibility: hidden, and never reached from outside even indirectly (processor-specific). */
export const STV_INTERNAL = 1;
/** Symbol visibility: not exported from the object. */
export const STV_HIDDEN = 2;
/** Symbol visibility: exported, but references inside the object bind to it. */
export const STV_PROTECTED = 3;
/** Names of symbol visibilities: `STV.name(2)` is 'STV_HIDDEN'. */
export const STV = new ConstantTable('STV', { STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED });

/** st_info from a binding (STB_*) and a type (STT_*). */
export function ELF64_ST_INFO(bind: number, type: number): number {
  return ((bind & 0xf) << 4) | (type & 0xf);
}
/** The binding (STB_*) in st_info. */
export function ELF64_ST_BIND(info: number): number {
  return info >> 4;
}
/** The type (STT_*) in st_info. */
export function ELF64_ST_TYPE(info: number): number {
  return info & 0xf;
}

// d_tag
/** d_tag: the end of the dynamic array. */
export const DT_NULL = 0;
/** d_tag: a needed library (offset of its name in .dynstr). */
export const DT_NEEDED = 1;
/** d_tag: size in bytes of the PLT relocations (DT_JMPREL). */
export const DT_PLTRELSZ = 2;
/** d_tag: address of the PLT's GOT (.got.plt). */
export const DT_PLTGOT = 3;
/** d_tag: address of the System V hash table. */
export const DT_HASH = 4;
/** d_tag: address of .dynstr. */
export const DT_STRTAB = 5;
/** d_tag: address of .dynsym. */
export const DT_SYMTAB = 6;
/** d_tag: address of the Elf64_Rela relocations. */
export const DT_RELA = 7;
/** d_tag: their size in bytes. */
export const DT_RELASZ = 8;
/** d_tag: size of one Elf64_Rela (24). */
export const DT_RELAENT = 9;
/** d_tag: size of .dynstr in bytes. */
export const DT_STRSZ = 10;
/** d_tag: size of one Elf64_Sym (24). */
export const DT_SYMENT = 11;
/** d_tag: address of the initialisation function. */
export const DT_INIT = 12;
/** d_tag: address of the termination function. */
export const DT_FINI = 13;
/** d_tag: the object's soname (offset in .dynstr). */
export const DT_SONAME = 14;
/** d_tag: library search path, searched before LD_LIBRARY_PATH (deprecated for DT_RUNPATH). */
export const DT_RPATH = 15;
/** d_tag: resolve the object's own references in it first. */
export const DT_SYMBOLIC = 16;
/** d_tag: address of the Elf64_Rel relocations. */
export const DT_REL = 17;
/** d_tag: their size in bytes. */
export const DT_RELSZ = 18;
/** d_tag: size of one Elf64_Rel (16). */
export const DT_RELENT = 19;
/** d_tag: the PLT relocations' kind: DT_RELA or DT_REL. */
export const DT_PLTREL = 20;
/** d_tag: filled by ld.so with the address of r_debug, for debuggers. */
export const DT_DEBUG = 21;
/** d_tag: relocations may write to a read-only segment. */
export const DT_TEXTREL = 22;
/** d_tag: address of the PLT relocations. */
export const DT_JMPREL = 23;
/** d_tag: resolve every symbol at load, not lazily. */
export const DT_BIND_NOW = 24;
/** d_tag: address of the initialisation function pointers. */
export const DT_INIT_ARRAY = 25;
/** d_tag: address of the termination function pointers. */
export const DT_FINI_ARRAY = 26;
/** d_tag: size of DT_INIT_ARRAY in bytes. */
export const DT_INIT_ARRAYSZ = 27;
/** d_tag: size of DT_FINI_ARRAY in bytes. */
export const DT_FINI_ARRAYSZ = 28;
/** d_tag: library search path, searched after LD_LIBRARY_PATH (offset in .dynstr). */
export const DT_RUNPATH = 29;
/** d_tag: DF_* flags. */
export const DT_FLAGS = 30;
/** d_tag: size of the RELR table in bytes. */
export const DT_RELRSZ = 35;
/** d_tag: address of the RELR table (glibc 2.36+). */
export const DT_RELR = 36;
/** d_tag: size of one RELR word (8). */
export const DT_RELRENT = 37;
/** d_tag: address of the GNU hash table. */
export const DT_GNU_HASH = 0x6ffffef5;
/** d_tag: address of .gnu.version. */
export const DT_VERSYM = 0x6ffffff0;
/** d_tag: how many of the DT_RELA relocations are RELATIVE (they come first). */
export const DT_RELACOUNT = 0x6ffffff9;
/** d_tag: how many of the DT_REL relocations are RELATIVE. */
export const DT_RELCOUNT = 0x6ffffffa;
/** d_tag: DF_1_* flags. */
export const DT_FLAGS_1 = 0x6ffffffb;
/** d_tag: address of .gnu.version_d. */
export const DT_VERDEF = 0x6ffffffc;
/** d_tag: number of version definitions. */
export const DT_VERDEFNUM = 0x6ffffffd;
/** d_tag: address of .gnu.version_r. */
export const DT_VERNEED = 0x6ffffffe;
/** d_tag: number of version needs (one per library). */
export const DT_VERNEEDNUM = 0x6fffffff;
/** Names of d_tag values: `DT.name(14)` is 'DT_SONAME'. */
export const DT = new ConstantTable(
  'DT',
  {
    DT_NULL,
    DT_NEEDED,
    DT_PLTRELSZ,
    DT_PLTGOT,
    DT_HASH,
    DT_STRTAB,
    DT_SYMTAB,
    DT_RELA,
    DT_RELASZ,
    DT_RELAENT,
    DT_STRSZ,
    DT_SYMENT,
    DT_INIT,
    DT_FINI,
    DT_SONAME,
    DT_RPATH,
    DT_SYMBOLIC,
    DT_REL,
    DT_RELSZ,
    DT_RELENT,
    DT_PLTREL,
    DT_DEBUG,
    DT_TEXTREL,
    DT_JMPREL,
    DT_BIND_NOW,
    DT_INIT_ARRAY,
    DT_FINI_ARRAY,
    DT_INIT_ARRAYSZ,
    DT_FINI_ARRAYSZ,
    DT_RUNPATH,
    DT_FLAGS,
    DT_RELRSZ,
    DT_RELR,
    DT_RELRENT,
    DT_GNU_HASH,
    DT_VERSYM,
    DT_RELACOUNT,
    DT_RELCOUNT,
    DT_FLAGS_1,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
  },
  [
    ['DT_LOOS', 0x6000000d],
    ['DT_LOPROC', 0x70000000],
  ],
);
/** Tags whose d_un is an address (d_ptr). glibc relocates only some of them in place (see the reader's GLIBC_RELOCATED_TAGS). */
export const DT_PTR_TAGS: ReadonlySet<number> = new Set([
  DT_PLTGOT,
  DT_HASH,
  DT_STRTAB,
  DT_SYMTAB,
  DT_RELA,
  DT_INIT,
  DT_FINI,
  DT_REL,
  DT_DEBUG,
  DT_JMPREL,
  DT_INIT_ARRAY,
  DT_FINI_ARRAY,
  DT_RELR,
  DT_GNU_HASH,
  DT_VERSYM,
  DT_VERDEF,
  DT_VERNEED,
]);

// Relocation types of the two machines dlbind writes and reads (glibc elf.h; the x86-64
// psABI; ARM's ELF for the Arm 64-bit Architecture).
/** x86_64 relocation (psABI): none. */
export const R_X86_64_NONE = 0;
/** x86_64 relocation (psABI): S + A (64-bit). */
export const R_X86_64_64 = 1;
/** x86_64 relocation (psABI): S + A - P (32-bit). */
export const R_X86_64_PC32 = 2;
/** x86_64 relocation (psABI): G + A (32-bit). */
export const R_X86_64_GOT32 = 3;
/** x86_64 relocation (psABI): L + A - P (32-bit): a call, through the PLT if needed. */
export const R_X86_64_PLT32 = 4;
/** x86_64 relocation (psABI): copy the symbol's bytes into the executable at load. */
export const R_X86_64_COPY = 5;
/** x86_64 relocation (psABI): S: a GOT slot. */
export const R_X86_64_GLOB_DAT = 6;
/** x86_64 relocation (psABI): S: a PLT slot (.got.plt), lazily bound. */
export const R_X86_64_JUMP_SLOT = 7;
/** x86_64 relocation (psABI): B + A: a pointer into the object itself. */
export const R_X86_64_RELATIVE = 8;
/** x86_64 relocation (psABI): G + GOT + A - P (32-bit). */
export const R_X86_64_GOTPCREL = 9;
/** x86_64 relocation (psABI): S + A (32-bit, zero-extended). */
export const R_X86_64_32 = 10;
/** x86_64 relocation (psABI): S + A (32-bit, sign-extended). */
export const R_X86_64_32S = 11;
/** x86_64 relocation (psABI): S + A (16-bit). */
export const R_X86_64_16 = 12;
/** x86_64 relocation (psABI): S + A - P (16-bit). */
export const R_X86_64_PC16 = 13;
/** x86_64 relocation (psABI): S + A (8-bit). */
export const R_X86_64_8 = 14;
/** x86_64 relocation (psABI): S + A - P (8-bit). */
export const R_X86_64_PC8 = 15;
/** x86_64 relocation (psABI): the TLS module id of the symbol's object. */
export const R_X86_64_DTPMOD64 = 16;
/** x86_64 relocation (psABI): the symbol's offset in its TLS block (64-bit). */
export const R_X86_64_DTPOFF64 = 17;
/** x86_64 relocation (psABI): the symbol's offset from the thread pointer (64-bit). */
export const R_X86_64_TPOFF64 = 18;
/** x86_64 relocation (psABI): a GOT entry pair for __tls_get_addr, general dynamic model. */
export const R_X86_64_TLSGD = 19;
/** x86_64 relocation (psABI): a GOT entry pair for __tls_get_addr, local dynamic model. */
export const R_X86_64_TLSLD = 20;
/** x86_64 relocation (psABI): the symbol's offset in its TLS block (32-bit). */
export const R_X86_64_DTPOFF32 = 21;
/** x86_64 relocation (psABI): the GOT slot holding the symbol's thread-pointer offset, PC-relative. */
export const R_X86_64_GOTTPOFF = 22;
/** x86_64 relocation (psABI): the symbol's offset from the thread pointer (32-bit). */
export const R_X86_64_TPOFF32 = 23;
/** x86_64 relocation (psABI): S + A - P (64-bit). */
export const R_X86_64_PC64 = 24;
/** x86_64 relocation (psABI): S + A - GOT (64-bit). */
export const R_X86_64_GOTOFF64 = 25;
/** x86_64 relocation (psABI): GOT + A - P (32-bit). */
export const R_X86_64_GOTPC32 = 26;
/** x86_64 relocation (psABI): G + A (64-bit). */
export const R_X86_64_GOT64 = 27;
/** x86_64 relocation (psABI): G + GOT - P + A (64-bit). */
export const R_X86_64_GOTPCREL64 = 28;
/** x86_64 relocation (psABI): GOT - P + A (64-bit). */
export const R_X86_64_GOTPC64 = 29;
/** x86_64 relocation (psABI): G + A (64-bit), the PLT-GOT slot. */
export const R_X86_64_GOTPLT64 = 30;
/** x86_64 relocation (psABI): L - GOT + A (64-bit). */
export const R_X86_64_PLTOFF64 = 31;
/** x86_64 relocation (psABI): Z + A (32-bit). */
export const R_X86_64_SIZE32 = 32;
/** x86_64 relocation (psABI): Z + A (64-bit). */
export const R_X86_64_SIZE64 = 33;
/** x86_64 relocation (psABI): the GOT slot of a TLS descriptor, PC-relative. */
export const R_X86_64_GOTPC32_TLSDESC = 34;
/** x86_64 relocation (psABI): marks the call through a TLS descriptor. */
export const R_X86_64_TLSDESC_CALL = 35;
/** x86_64 relocation (psABI): a TLS descriptor (two GOT words). */
export const R_X86_64_TLSDESC = 36;
/** x86_64 relocation (psABI): the address returned by the resolver at B + A (an ifunc). */
export const R_X86_64_IRELATIVE = 37;
/** x86_64 relocation (psABI): B + A (64-bit, in ILP32 objects). */
export const R_X86_64_RELATIVE64 = 38;
/** x86_64 relocation (psABI): G + GOT + A - P (32-bit), relaxable to a direct reference. */
export const R_X86_64_GOTPCRELX = 41;
/** x86_64 relocation (psABI): G + GOT + A - P (32-bit) after a REX prefix, relaxable. */
export const R_X86_64_REX_GOTPCRELX = 42;

/** Names of x86_64 relocation types: `R_X86_64.name(8)` is 'R_X86_64_RELATIVE'. */
export const R_X86_64 = new ConstantTable('R_X86_64', {
  R_X86_64_NONE,
  R_X86_64_64,
  R_X86_64_PC32,
  R_X86_64_GOT32,
  R_X86_64_PLT32,
  R_X86_64_COPY,
  R_X86_64_GLOB_DAT,
  R_X86_64_JUMP_SLOT,
  R_X86_64_RELATIVE,
  R_X86_64_GOTPCREL,
  R_X86_64_32,
  R_X86_64_32S,
  R_X86_64_16,
  R_X86_64_PC16,
  R_X86_64_8,
  R_X86_64_PC8,
  R_X86_64_DTPMOD64,
  R_X86_64_DTPOFF64,
  R_X86_64_TPOFF64,
  R_X86_64_TLSGD,
  R_X86_64_TLSLD,
  R_X86_64_DTPOFF32,
  R_X86_64_GOTTPOFF,
  R_X86_64_TPOFF32,
  R_X86_64_PC64,
  R_X86_64_GOTOFF64,
  R_X86_64_GOTPC32,
  R_X86_64_GOT64,
  R_X86_64_GOTPCREL64,
  R_X86_64_GOTPC64,
  R_X86_64_GOTPLT64,
  R_X86_64_PLTOFF64,
  R_X86_64_SIZE32,
  R_X86_64_SIZE64,
  R_X86_64_GOTPC32_TLSDESC,
  R_X86_64_TLSDESC_CALL,
  R_X86_64_TLSDESC,
  R_X86_64_IRELATIVE,
  R_X86_64_RELATIVE64,
  R_X86_64_GOTPCRELX,
  R_X86_64_REX_GOTPCRELX,
});

/** aarch64 relocation (Arm ELF64 ABI): none. */
export const R_AARCH64_NONE = 0;
/** aarch64 relocation (Arm ELF64 ABI): S + A (64-bit). */
export const R_AARCH64_ABS64 = 257;
/** aarch64 relocation (Arm ELF64 ABI): S + A (32-bit). */
export const R_AARCH64_ABS32 = 258;
/** aarch64 relocation (Arm ELF64 ABI): S + A (16-bit). */
export const R_AARCH64_ABS16 = 259;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P (64-bit). */
export const R_AARCH64_PREL64 = 260;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P (32-bit). */
export const R_AARCH64_PREL32 = 261;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P (16-bit). */
export const R_AARCH64_PREL16 = 262;
/** aarch64 relocation (Arm ELF64 ABI): bits 0-15 of S + A into a MOVZ/MOVK, checked. */
export const R_AARCH64_MOVW_UABS_G0 = 263;
/** aarch64 relocation (Arm ELF64 ABI): bits 0-15 of S + A into a MOVK, unchecked. */
export const R_AARCH64_MOVW_UABS_G0_NC = 264;
/** aarch64 relocation (Arm ELF64 ABI): bits 16-31 of S + A, checked. */
export const R_AARCH64_MOVW_UABS_G1 = 265;
/** aarch64 relocation (Arm ELF64 ABI): bits 16-31 of S + A, unchecked. */
export const R_AARCH64_MOVW_UABS_G1_NC = 266;
/** aarch64 relocation (Arm ELF64 ABI): bits 32-47 of S + A, checked. */
export const R_AARCH64_MOVW_UABS_G2 = 267;
/** aarch64 relocation (Arm ELF64 ABI): bits 32-47 of S + A, unchecked. */
export const R_AARCH64_MOVW_UABS_G2_NC = 268;
/** aarch64 relocation (Arm ELF64 ABI): bits 48-63 of S + A. */
export const R_AARCH64_MOVW_UABS_G3 = 269;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into a literal load (±1 MiB). */
export const R_AARCH64_LD_PREL_LO19 = 273;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into an ADR (±1 MiB). */
export const R_AARCH64_ADR_PREL_LO21 = 274;
/** aarch64 relocation (Arm ELF64 ABI): Page(S + A) - Page(P) into an ADRP (±4 GiB), checked. */
export const R_AARCH64_ADR_PREL_PG_HI21 = 275;
/** aarch64 relocation (Arm ELF64 ABI): Page(S + A) - Page(P) into an ADRP, unchecked. */
export const R_AARCH64_ADR_PREL_PG_HI21_NC = 276;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A into an ADD. */
export const R_AARCH64_ADD_ABS_LO12_NC = 277;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A into a byte load/store. */
export const R_AARCH64_LDST8_ABS_LO12_NC = 278;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into a TBZ/TBNZ (±32 KiB). */
export const R_AARCH64_TSTBR14 = 279;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into a conditional branch (±1 MiB). */
export const R_AARCH64_CONDBR19 = 280;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into a B (±128 MiB). */
export const R_AARCH64_JUMP26 = 282;
/** aarch64 relocation (Arm ELF64 ABI): S + A - P into a BL (±128 MiB). */
export const R_AARCH64_CALL26 = 283;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A, scaled by 2, into a halfword load/store. */
export const R_AARCH64_LDST16_ABS_LO12_NC = 284;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A, scaled by 4, into a word load/store. */
export const R_AARCH64_LDST32_ABS_LO12_NC = 285;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A, scaled by 8, into a doubleword load/store. */
export const R_AARCH64_LDST64_ABS_LO12_NC = 286;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of S + A, scaled by 16, into a quadword load/store. */
export const R_AARCH64_LDST128_ABS_LO12_NC = 299;
/** aarch64 relocation (Arm ELF64 ABI): Page(G(S)) - Page(P) into an ADRP: the GOT slot's page. */
export const R_AARCH64_ADR_GOT_PAGE = 311;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of the GOT slot's address into an LDR. */
export const R_AARCH64_LD64_GOT_LO12_NC = 312;
/** aarch64 relocation (Arm ELF64 ABI): the page of a TLS descriptor's GOT slot into an ADRP. */
export const R_AARCH64_TLSDESC_ADR_PAGE21 = 562;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of the descriptor's slot into an LDR. */
export const R_AARCH64_TLSDESC_LD64_LO12 = 563;
/** aarch64 relocation (Arm ELF64 ABI): the low 12 bits of the descriptor's slot into an ADD. */
export const R_AARCH64_TLSDESC_ADD_LO12 = 564;
/** aarch64 relocation (Arm ELF64 ABI): marks the BLR through a TLS descriptor. */
export const R_AARCH64_TLSDESC_CALL = 569;
/** aarch64 relocation (Arm ELF64 ABI): copy the symbol's bytes into the executable at load. */
export const R_AARCH64_COPY = 1024;
/** aarch64 relocation (Arm ELF64 ABI): S + A: a GOT slot. */
export const R_AARCH64_GLOB_DAT = 1025;
/** aarch64 relocation (Arm ELF64 ABI): S + A: a PLT slot, lazily bound. */
export const R_AARCH64_JUMP_SLOT = 1026;
/** aarch64 relocation (Arm ELF64 ABI): B + A: a pointer into the object itself. */
export const R_AARCH64_RELATIVE = 1027;
/** aarch64 relocation (Arm ELF64 ABI): the TLS module id of the symbol's object. */
export const R_AARCH64_TLS_DTPMOD = 1028;
/** aarch64 relocation (Arm ELF64 ABI): the symbol's offset in its TLS block. */
export const R_AARCH64_TLS_DTPREL = 1029;
/** aarch64 relocation (Arm ELF64 ABI): the symbol's offset from the thread pointer. */
export const R_AARCH64_TLS_TPREL = 1030;
/** aarch64 relocation (Arm ELF64 ABI): a TLS descriptor (two GOT words). */
export const R_AARCH64_TLSDESC = 1031;
/** aarch64 relocation (Arm ELF64 ABI): the address returned by the resolver at B + A (an ifunc). */
export const R_AARCH64_IRELATIVE = 1032;

/** Names of aarch64 relocation types: `R_AARCH64.name(1027)` is 'R_AARCH64_RELATIVE'. */
export const R_AARCH64 = new ConstantTable('R_AARCH64', {
  R_AARCH64_NONE,
  R_AARCH64_ABS64,
  R_AARCH64_ABS32,
  R_AARCH64_ABS16,
  R_AARCH64_PREL64,
  R_AARCH64_PREL32,
  R_AARCH64_PREL16,
  R_AARCH64_MOVW_UABS_G0,
  R_AARCH64_MOVW_UABS_G0_NC,
  R_AARCH64_MOVW_UABS_G1,
  R_AARCH64_MOVW_UABS_G1_NC,
  R_AARCH64_MOVW_UABS_G2,
  R_AARCH64_MOVW_UABS_G2_NC,
  R_AARCH64_MOVW_UABS_G3,
  R_AARCH64_LD_PREL_LO19,
  R_AARCH64_ADR_PREL_LO21,
  R_AARCH64_ADR_PREL_PG_HI21,
  R_AARCH64_ADR_PREL_PG_HI21_NC,
  R_AARCH64_ADD_ABS_LO12_NC,
  R_AARCH64_LDST8_ABS_LO12_NC,
  R_AARCH64_TSTBR14,
  R_AARCH64_CONDBR19,
  R_AARCH64_JUMP26,
  R_AARCH64_CALL26,
  R_AARCH64_LDST16_ABS_LO12_NC,
  R_AARCH64_LDST32_ABS_LO12_NC,
  R_AARCH64_LDST64_ABS_LO12_NC,
  R_AARCH64_LDST128_ABS_LO12_NC,
  R_AARCH64_ADR_GOT_PAGE,
  R_AARCH64_LD64_GOT_LO12_NC,
  R_AARCH64_TLSDESC_ADR_PAGE21,
  R_AARCH64_TLSDESC_LD64_LO12,
  R_AARCH64_TLSDESC_ADD_LO12,
  R_AARCH64_TLSDESC_CALL,
  R_AARCH64_COPY,
  R_AARCH64_GLOB_DAT,
  R_AARCH64_JUMP_SLOT,
  R_AARCH64_RELATIVE,
  R_AARCH64_TLS_DTPMOD,
  R_AARCH64_TLS_DTPREL,
  R_AARCH64_TLS_TPREL,
  R_AARCH64_TLSDESC,
  R_AARCH64_IRELATIVE,
});

/** The name of relocation type `type` on machine `e_machine`: `R_X86_64_JUMP_SLOT`, or `R(0x99)` for an unknown machine. */
export function relocationTypeName(e_machine: number, type: number): string {
  if (e_machine === EM_X86_64) return R_X86_64.name(type);
  if (e_machine === EM_AARCH64) return R_AARCH64.name(type);
  return `R(0x${type.toString(16)})`;
}

/** r_info from a symbol index and a relocation type. */
export function ELF64_R_INFO(sym: number, type: number): bigint {
  return (BigInt(sym) << 32n) | BigInt(type >>> 0);
}
/** The symbol index in r_info. */
export function ELF64_R_SYM(info: bigint): number {
  return Number(info >> 32n);
}
/** The relocation type in r_info. */
export function ELF64_R_TYPE(info: bigint): number {
  return Number(info & 0xffffffffn);
}
