// ELF64 definitions: the subset of <elf.h> that dlbind writes or reads.
// Values are the spec's; names keep the spec's spelling so they can be grepped
// against glibc's elf.h and the System V gABI.

/** A table of named constants that can print any value, known or not. */
export class ConstantTable {
  private readonly byValue = new Map<number, string>();
  constructor(
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
export const ELFMAG = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46);
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const EI_NIDENT = 16;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ELFOSABI_SYSV = 0;

// e_type
export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;
export const ET = new ConstantTable('ET', { ET_NONE, ET_REL, ET_EXEC, ET_DYN, ET_CORE }, [
  ['ET_LOOS', 0xfe00],
  ['ET_LOPROC', 0xff00],
]);

// e_machine
export const EM_NONE = 0;
export const EM_386 = 3;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_S390 = 22;
export const EM_ALPHA = 0x9026;
export const EM_S390_OLD = 0xa390;
export const EM = new ConstantTable('EM', { EM_NONE, EM_386, EM_X86_64, EM_AARCH64, EM_RISCV, EM_S390, EM_ALPHA, EM_S390_OLD });

// Record sizes of ELF64 structures.
export const EHDR64_SIZE = 64;
export const PHDR64_SIZE = 56;
export const SHDR64_SIZE = 64;
export const SYM64_SIZE = 24;
export const DYN64_SIZE = 16;
export const RELA64_SIZE = 24;
export const REL64_SIZE = 16;

// p_type
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;
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
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

// Special section indexes
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// sh_type
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_RELR = 19;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;
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
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;

// Symbol binding, type and visibility
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
export const STB = new ConstantTable('STB', { STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE }, [
  ['STB_LOOS', 10],
  ['STB_LOPROC', 13],
]);
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;
export const STT = new ConstantTable('STT', { STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS, STT_GNU_IFUNC }, [
  ['STT_LOOS', 10],
  ['STT_LOPROC', 13],
]);
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;
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
export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_PLTRELSZ = 2;
export const DT_PLTGOT = 3;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_RELAENT = 9;
export const DT_STRSZ = 10;
export const DT_SYMENT = 11;
export const DT_INIT = 12;
export const DT_FINI = 13;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_SYMBOLIC = 16;
export const DT_REL = 17;
export const DT_RELSZ = 18;
export const DT_RELENT = 19;
export const DT_PLTREL = 20;
export const DT_DEBUG = 21;
export const DT_TEXTREL = 22;
export const DT_JMPREL = 23;
export const DT_BIND_NOW = 24;
export const DT_INIT_ARRAY = 25;
export const DT_FINI_ARRAY = 26;
export const DT_INIT_ARRAYSZ = 27;
export const DT_FINI_ARRAYSZ = 28;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_RELRSZ = 35;
export const DT_RELR = 36;
export const DT_RELRENT = 37;
export const DT_GNU_HASH = 0x6ffffef5;
export const DT_VERSYM = 0x6ffffff0;
export const DT_RELACOUNT = 0x6ffffff9;
export const DT_RELCOUNT = 0x6ffffffa;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;
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
export const R_X86_64_NONE = 0;
export const R_X86_64_64 = 1;
export const R_X86_64_PC32 = 2;
export const R_X86_64_GOT32 = 3;
export const R_X86_64_PLT32 = 4;
export const R_X86_64_COPY = 5;
export const R_X86_64_GLOB_DAT = 6;
export const R_X86_64_JUMP_SLOT = 7;
export const R_X86_64_RELATIVE = 8;
export const R_X86_64_GOTPCREL = 9;
export const R_X86_64_32 = 10;
export const R_X86_64_32S = 11;
export const R_X86_64_16 = 12;
export const R_X86_64_PC16 = 13;
export const R_X86_64_8 = 14;
export const R_X86_64_PC8 = 15;
export const R_X86_64_DTPMOD64 = 16;
export const R_X86_64_DTPOFF64 = 17;
export const R_X86_64_TPOFF64 = 18;
export const R_X86_64_TLSGD = 19;
export const R_X86_64_TLSLD = 20;
export const R_X86_64_DTPOFF32 = 21;
export const R_X86_64_GOTTPOFF = 22;
export const R_X86_64_TPOFF32 = 23;
export const R_X86_64_PC64 = 24;
export const R_X86_64_GOTOFF64 = 25;
export const R_X86_64_GOTPC32 = 26;
export const R_X86_64_GOT64 = 27;
export const R_X86_64_GOTPCREL64 = 28;
export const R_X86_64_GOTPC64 = 29;
export const R_X86_64_GOTPLT64 = 30;
export const R_X86_64_PLTOFF64 = 31;
export const R_X86_64_SIZE32 = 32;
export const R_X86_64_SIZE64 = 33;
export const R_X86_64_GOTPC32_TLSDESC = 34;
export const R_X86_64_TLSDESC_CALL = 35;
export const R_X86_64_TLSDESC = 36;
export const R_X86_64_IRELATIVE = 37;
export const R_X86_64_RELATIVE64 = 38;
export const R_X86_64_GOTPCRELX = 41;
export const R_X86_64_REX_GOTPCRELX = 42;

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

export const R_AARCH64_NONE = 0;
export const R_AARCH64_ABS64 = 257;
export const R_AARCH64_ABS32 = 258;
export const R_AARCH64_ABS16 = 259;
export const R_AARCH64_PREL64 = 260;
export const R_AARCH64_PREL32 = 261;
export const R_AARCH64_PREL16 = 262;
export const R_AARCH64_MOVW_UABS_G0 = 263;
export const R_AARCH64_MOVW_UABS_G0_NC = 264;
export const R_AARCH64_MOVW_UABS_G1 = 265;
export const R_AARCH64_MOVW_UABS_G1_NC = 266;
export const R_AARCH64_MOVW_UABS_G2 = 267;
export const R_AARCH64_MOVW_UABS_G2_NC = 268;
export const R_AARCH64_MOVW_UABS_G3 = 269;
export const R_AARCH64_LD_PREL_LO19 = 273;
export const R_AARCH64_ADR_PREL_LO21 = 274;
export const R_AARCH64_ADR_PREL_PG_HI21 = 275;
export const R_AARCH64_ADR_PREL_PG_HI21_NC = 276;
export const R_AARCH64_ADD_ABS_LO12_NC = 277;
export const R_AARCH64_LDST8_ABS_LO12_NC = 278;
export const R_AARCH64_TSTBR14 = 279;
export const R_AARCH64_CONDBR19 = 280;
export const R_AARCH64_JUMP26 = 282;
export const R_AARCH64_CALL26 = 283;
export const R_AARCH64_LDST16_ABS_LO12_NC = 284;
export const R_AARCH64_LDST32_ABS_LO12_NC = 285;
export const R_AARCH64_LDST64_ABS_LO12_NC = 286;
export const R_AARCH64_LDST128_ABS_LO12_NC = 299;
export const R_AARCH64_ADR_GOT_PAGE = 311;
export const R_AARCH64_LD64_GOT_LO12_NC = 312;
export const R_AARCH64_TLSDESC_ADR_PAGE21 = 562;
export const R_AARCH64_TLSDESC_LD64_LO12 = 563;
export const R_AARCH64_TLSDESC_ADD_LO12 = 564;
export const R_AARCH64_TLSDESC_CALL = 569;
export const R_AARCH64_COPY = 1024;
export const R_AARCH64_GLOB_DAT = 1025;
export const R_AARCH64_JUMP_SLOT = 1026;
export const R_AARCH64_RELATIVE = 1027;
export const R_AARCH64_TLS_DTPMOD = 1028;
export const R_AARCH64_TLS_DTPREL = 1029;
export const R_AARCH64_TLS_TPREL = 1030;
export const R_AARCH64_TLSDESC = 1031;
export const R_AARCH64_IRELATIVE = 1032;

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
