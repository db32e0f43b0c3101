// `dlbind inspect`: a readelf-like summary of an ELF64 file, as text or JSON.
import { type ElfFile, type ElfSymbol, elf } from '../index.js';
import { grouped, hex, table } from './format.js';
import { unwindJson, unwindText } from './inspect-unwind.js';

/** readelf's segment flags: R, W, E. */
export function segmentFlags(p_flags: number): string {
  return `${p_flags & elf.PF_R ? 'R' : ' '}${p_flags & elf.PF_W ? 'W' : ' '}${p_flags & elf.PF_X ? 'E' : ' '}`;
}

const SECTION_FLAG_LETTERS: ReadonlyArray<readonly [bigint, string]> = [
  [0x1n, 'W'],
  [0x2n, 'A'],
  [0x4n, 'X'],
  [0x10n, 'M'],
  [0x20n, 'S'],
  [0x40n, 'I'],
  [0x80n, 'L'],
  [0x100n, 'O'],
  [0x200n, 'G'],
  [0x400n, 'T'],
  [0x800n, 'C'],
];

/** readelf's section flag letters: W write, A alloc, X execute, M merge, S strings, I info, ... */
export function sectionFlags(sh_flags: bigint): string {
  let out = '';
  let rest = sh_flags;
  for (const [bit, letter] of SECTION_FLAG_LETTERS) {
    if ((sh_flags & bit) !== 0n) out += letter;
    rest &= ~bit;
  }
  return rest === 0n ? out : `${out}${out ? '+' : ''}${hex(rest)}`;
}

function sectionIndex(shndx: number): string {
  if (shndx === elf.SHN_UNDEF) return 'UND';
  if (shndx === elf.SHN_ABS) return 'ABS';
  if (shndx === elf.SHN_COMMON) return 'COM';
  return String(shndx);
}

// The dynamic relocation types of each machine; elf exports only the ones dlbind writes.
const RELOCATION_NAMES: Record<string, Record<number, string>> = {
  x86_64: {
    0: 'R_X86_64_NONE',
    1: 'R_X86_64_64',
    2: 'R_X86_64_PC32',
    5: 'R_X86_64_COPY',
    6: 'R_X86_64_GLOB_DAT',
    7: 'R_X86_64_JUMP_SLOT',
    8: 'R_X86_64_RELATIVE',
    16: 'R_X86_64_DTPMOD64',
    17: 'R_X86_64_DTPOFF64',
    18: 'R_X86_64_TPOFF64',
    36: 'R_X86_64_TLSDESC',
    37: 'R_X86_64_IRELATIVE',
  },
  aarch64: {
    0: 'R_AARCH64_NONE',
    257: 'R_AARCH64_ABS64',
    1024: 'R_AARCH64_COPY',
    1025: 'R_AARCH64_GLOB_DAT',
    1026: 'R_AARCH64_JUMP_SLOT',
    1027: 'R_AARCH64_RELATIVE',
    1028: 'R_AARCH64_TLS_DTPMOD',
    1029: 'R_AARCH64_TLS_DTPREL',
    1030: 'R_AARCH64_TLS_TPREL',
    1031: 'R_AARCH64_TLSDESC',
    1032: 'R_AARCH64_IRELATIVE',
  },
};

function relocationName(machine: string, type: number): string {
  return RELOCATION_NAMES[machine]?.[type] ?? `type ${type}`;
}

/** Dynamic tags whose value is a size in bytes, or a count. */
const SIZE_TAGS = new Set([
  elf.DT_PLTRELSZ,
  elf.DT_RELASZ,
  elf.DT_RELAENT,
  elf.DT_STRSZ,
  elf.DT_SYMENT,
  elf.DT_RELSZ,
  elf.DT_RELENT,
  elf.DT_INIT_ARRAYSZ,
  elf.DT_FINI_ARRAYSZ,
  elf.DT_RELRSZ,
  elf.DT_RELRENT,
]);
const COUNT_TAGS = new Set([elf.DT_RELACOUNT, elf.DT_RELCOUNT, elf.DT_VERDEFNUM, elf.DT_VERNEEDNUM]);

/** One dynamic entry's value as readelf words it; strings come from the reader's soname and needed list. */
function dynamicValues(file: ElfFile): string[] {
  let nextNeeded = 0;
  return file.dynamic.map((d) => {
    if (d.d_tag === elf.DT_NEEDED) return `shared library: [${file.needed[nextNeeded++] ?? '?'}]`;
    if (d.d_tag === elf.DT_SONAME) return `library soname: [${file.soname ?? '?'}]`;
    if (SIZE_TAGS.has(d.d_tag)) return `${grouped(d.d_val)} (bytes)`;
    if (COUNT_TAGS.has(d.d_tag)) return grouped(d.d_val);
    return hex(d.d_val);
  });
}

function symbolRows(symbols: readonly ElfSymbol[]): string[][] {
  return symbols.map((s, i) => [
    String(i),
    hex(s.st_value, 16),
    grouped(s.st_size),
    elf.STT.name(s.type),
    elf.STB.name(s.bind),
    elf.STV.name(s.visibility),
    sectionIndex(s.st_shndx),
    s.name,
  ]);
}

const SYMBOL_HEADER = ['Num', 'Value', 'Size', 'Type', 'Bind', 'Vis', 'Ndx', 'Name'];
const SYMBOL_ALIGN = ['right', 'left', 'right', 'left', 'left', 'left', 'right', 'left'] as const;

/** The text report, as lines. */
export function inspectText(file: ElfFile, name: string, size: number): string[] {
  const h = file.header;
  const out: string[] = [];
  const kind = h.e_type === elf.ET_DYN ? 'shared object' : h.e_type === elf.ET_EXEC ? 'executable' : h.e_type === elf.ET_REL ? 'relocatable object' : 'file';
  out.push(`${name}: ELF64 ${kind}, ${file.machine}, ${grouped(size)} bytes`);

  out.push('', 'ELF header');
  out.push(
    ...table([
      ['Class, data', 'ELF64, little-endian'],
      ['Type', elf.ET.name(h.e_type)],
      ['Machine', `${elf.EM.name(h.e_machine)} (${file.machine})`],
      ['OS/ABI', `${h.ei_osabi}, ABI version ${h.ei_abiversion}`],
      ['Entry point', hex(h.e_entry)],
      ['Program headers', `${h.e_phnum} at offset ${hex(h.e_phoff)}`],
      ['Section headers', h.e_shoff === 0n ? 'none' : `${file.sections.length} at offset ${hex(h.e_shoff)}, names in section ${h.e_shstrndx}`],
      ['Flags', hex(h.e_flags)],
    ]),
  );

  out.push('', `Segments (${file.segments.length})`);
  out.push(
    ...table(
      file.segments.map((p) => [
        elf.PT.name(p.p_type),
        hex(p.p_offset, 6),
        hex(p.p_vaddr, 8),
        hex(p.p_filesz, 6),
        hex(p.p_memsz, 6),
        segmentFlags(p.p_flags),
        hex(p.p_align),
      ]),
      { header: ['Type', 'Offset', 'VirtAddr', 'FileSiz', 'MemSiz', 'Flg', 'Align'] },
    ),
  );

  if (file.sections.length > 0) {
    out.push('', `Sections (${file.sections.length})`);
    out.push(
      ...table(
        file.sections.map((s, i) => [
          String(i),
          s.name,
          elf.SHT.name(s.sh_type),
          hex(s.sh_addr, 8),
          hex(s.sh_offset, 6),
          hex(s.sh_size, 6),
          hex(s.sh_entsize, 2),
          sectionFlags(s.sh_flags),
          String(s.sh_link),
          String(s.sh_info),
          String(s.sh_addralign),
        ]),
        {
          header: ['Nr', 'Name', 'Type', 'Address', 'Offset', 'Size', 'ES', 'Flg', 'Lk', 'Inf', 'Al'],
          align: ['right', 'left', 'left', 'left', 'left', 'left', 'left', 'left', 'right', 'right', 'right'],
        },
      ),
    );
  } else {
    out.push('', 'Sections: none (no section header table)');
  }

  if (file.dynamic.length > 0) {
    const values = dynamicValues(file);
    out.push('', `Dynamic section (${file.dynamic.length} entries)`);
    out.push(
      ...table(
        file.dynamic.map((d, i) => [elf.DT.name(d.d_tag), values[i]!]),
        { header: ['Tag', 'Value'] },
      ),
    );
    const hashes: string[] = [];
    if (file.sysvHash !== undefined) hashes.push(`DT_HASH: ${file.sysvHash.nbucket} buckets, ${file.sysvHash.nchain} chain entries`);
    if (file.gnuHash !== undefined)
      hashes.push(
        `DT_GNU_HASH: ${file.gnuHash.nbuckets} buckets, symoffset ${file.gnuHash.symoffset}, ${file.gnuHash.bloomSize} bloom word${file.gnuHash.bloomSize === 1 ? '' : 's'}`,
      );
    if (hashes.length > 0) out.push('', 'Hash tables', ...hashes.map((s) => `  ${s}`));
  }

  if (file.dynamicSymbols.length > 0) {
    out.push('', `Dynamic symbols (${file.dynamicSymbols.length}, .dynsym)`);
    out.push(...table(symbolRows(file.dynamicSymbols), { header: SYMBOL_HEADER, align: SYMBOL_ALIGN }));
  }
  if (file.symbols.length > 0) {
    out.push('', `Symbols (${file.symbols.length}, .symtab)`);
    out.push(...table(symbolRows(file.symbols), { header: SYMBOL_HEADER, align: SYMBOL_ALIGN }));
  }
  if (file.relocations.length > 0) {
    out.push('', `Relocations (${file.relocations.length}, DT_RELA)`);
    out.push(
      ...table(
        file.relocations.map((r) => [
          hex(r.r_offset, 8),
          relocationName(file.machine, r.type),
          String(r.sym),
          r.r_addend < 0n ? `-${hex(-r.r_addend)}` : hex(r.r_addend),
        ]),
        { header: ['Offset', 'Type', 'Sym', 'Addend'], align: ['left', 'left', 'right', 'left'] },
      ),
    );
  }
  out.push(...unwindText(file));
  return out;
}

function symbolJson(s: ElfSymbol): Record<string, unknown> {
  return { ...s, typeName: elf.STT.name(s.type), bindName: elf.STB.name(s.bind), visibilityName: elf.STV.name(s.visibility) };
}

/** The JSON report: the reader's fields, plus the names of constants (`typeName`, `flagsText`, ...). */
export function inspectJson(file: ElfFile, name: string, size: number): Record<string, unknown> {
  const values = dynamicValues(file);
  return {
    file: name,
    size,
    machine: file.machine,
    header: { ...file.header, typeName: elf.ET.name(file.header.e_type), machineName: elf.EM.name(file.header.e_machine) },
    segments: file.segments.map((p) => ({ ...p, typeName: elf.PT.name(p.p_type), flagsText: segmentFlags(p.p_flags).replace(/ /g, '') })),
    sections: file.sections.map((s, i) => ({ index: i, ...s, typeName: elf.SHT.name(s.sh_type), flagsText: sectionFlags(s.sh_flags) })),
    dynamic: file.dynamic.map((d, i) => ({ ...d, tagName: elf.DT.name(d.d_tag), text: values[i] })),
    soname: file.soname ?? null,
    needed: file.needed,
    hashTables: {
      sysv: file.sysvHash === undefined ? null : { nbucket: file.sysvHash.nbucket, nchain: file.sysvHash.nchain },
      gnu:
        file.gnuHash === undefined
          ? null
          : { nbuckets: file.gnuHash.nbuckets, symoffset: file.gnuHash.symoffset, bloomSize: file.gnuHash.bloomSize, bloomShift: file.gnuHash.bloomShift },
    },
    dynamicSymbols: file.dynamicSymbols.map(symbolJson),
    symbols: file.symbols.map(symbolJson),
    relocations: file.relocations.map((r) => ({ ...r, typeName: relocationName(file.machine, r.type) })),
    unwind: unwindJson(file),
  };
}

/** JSON.stringify with bigints as hex strings ("0x1000", "-0x10"). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? (v < 0n ? `-${hex(-v)}` : hex(v)) : v), 2);
}
