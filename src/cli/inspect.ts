// `dlbind inspect`: a readelf-like summary of an ELF64 file, as text or JSON.
import * as elf from '../elf/constants.js';
import type { ElfFile } from '../elf/reader.js';
import type { ElfSymbol, Relocation, RelocationTable } from '../elf/types.js';
import { append, grouped, hex, printable, table } from './format.js';
import type { InspectFlag } from './inspect-flags.js';
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

function symbolRows(symbols: readonly ElfSymbol[], name: (i: number) => string): string[][] {
  return symbols.map((s, i) => [
    String(i),
    hex(s.st_value, 16),
    grouped(s.st_size),
    elf.STT.name(s.type),
    elf.STB.name(s.bind),
    elf.STV.name(s.visibility),
    sectionIndex(s.st_shndx),
    name(i),
  ]);
}

const SYMBOL_HEADER = ['Num', 'Value', 'Size', 'Type', 'Bind', 'Vis', 'Ndx', 'Name'];
const SYMBOL_ALIGN = ['right', 'left', 'right', 'left', 'left', 'left', 'right', 'left'] as const;

function signedHex(v: bigint): string {
  return v < 0n ? `-${hex(-v)}` : hex(v);
}

/** A part of the report: the flag that selects it, its text and its JSON. */
export interface InspectPart {
  flag: InspectFlag;
  text(file: ElfFile, out: string[]): void;
  json(file: ElfFile): Record<string, unknown>;
}

function kindOf(e_type: number): string {
  return e_type === elf.ET_DYN ? 'shared object' : e_type === elf.ET_EXEC ? 'executable' : e_type === elf.ET_REL ? 'relocatable object' : 'file';
}

const fileHeader: InspectPart = {
  flag: 'file-header',
  text(file, out) {
    const h = file.header;
    out.push('', 'ELF header');
    append(
      out,
      table([
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
  },
  json: (file) => ({ header: { ...file.header, typeName: elf.ET.name(file.header.e_type), machineName: elf.EM.name(file.header.e_machine) } }),
};

const segmentsPart: InspectPart = {
  flag: 'segments',
  text(file, out) {
    out.push('', `Segments (${file.segments.length})`);
    append(
      out,
      table(
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
  },
  json: (file) => ({ segments: file.segments.map((p) => ({ ...p, typeName: elf.PT.name(p.p_type), flagsText: segmentFlags(p.p_flags).replace(/ /g, '') })) }),
};

const sectionsPart: InspectPart = {
  flag: 'sections',
  text(file, out) {
    if (file.sections.length === 0) {
      out.push('', 'Sections: none (no section header table)');
      return;
    }
    out.push('', `Sections (${file.sections.length})`);
    append(
      out,
      table(
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
  },
  json: (file) => ({ sections: file.sections.map((s, i) => ({ index: i, ...s, typeName: elf.SHT.name(s.sh_type), flagsText: sectionFlags(s.sh_flags) })) }),
};

function tagName(d: ElfFile['dynamic'][number]): string {
  return d.d_tag_raw === undefined ? elf.DT.name(d.d_tag) : `DT(${signedHex(d.d_tag_raw)})`;
}

const dynamicPart: InspectPart = {
  flag: 'dynamic',
  text(file, out) {
    if (file.dynamic.length === 0) {
      out.push('', 'Dynamic section: none');
      return;
    }
    const values = dynamicValues(file);
    out.push('', `Dynamic section (${file.dynamic.length} entries)`);
    append(
      out,
      table(
        file.dynamic.map((d, i) => [tagName(d), values[i]!]),
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
  },
  json(file) {
    const values = dynamicValues(file);
    return {
      dynamic: file.dynamic.map((d, i) => ({ ...d, tagName: tagName(d), text: values[i] })),
      soname: file.soname ?? null,
      needed: file.needed,
      hashTables: {
        sysv: file.sysvHash === undefined ? null : { nbucket: file.sysvHash.nbucket, nchain: file.sysvHash.nchain },
        gnu:
          file.gnuHash === undefined
            ? null
            : { nbuckets: file.gnuHash.nbuckets, symoffset: file.gnuHash.symoffset, bloomSize: file.gnuHash.bloomSize, bloomShift: file.gnuHash.bloomShift },
      },
    };
  },
};

const dynSymsPart: InspectPart = {
  flag: 'dyn-syms',
  text(file, out) {
    if (file.dynamicSymbols.length === 0) return;
    out.push('', `Dynamic symbols (${file.dynamicSymbols.length}, .dynsym)`);
    append(
      out,
      table(
        symbolRows(file.dynamicSymbols, (i) => file.versionedName(i)),
        { header: SYMBOL_HEADER, align: SYMBOL_ALIGN },
      ),
    );
  },
  json: (file) => ({
    dynamicSymbols: file.dynamicSymbols.map((s, i) => {
      const v = file.symbolVersions[i];
      return { ...symbolJson(s), version: v?.name ?? null, versionHidden: v?.hidden ?? false };
    }),
  }),
};

const symtabPart: InspectPart = {
  flag: 'symbols',
  text(file, out) {
    if (file.symbols.length === 0) return;
    out.push('', `Symbols (${file.symbols.length}, .symtab)`);
    append(
      out,
      table(
        symbolRows(file.symbols, (i) => file.symbols[i]!.name),
        { header: SYMBOL_HEADER, align: SYMBOL_ALIGN },
      ),
    );
  },
  json: (file) => ({ symbols: file.symbols.map(symbolJson) }),
};

function plural(n: number, one: string, many: string): string {
  return `${grouped(n)} ${n === 1 ? one : many}`;
}

/** A relocation table's heading: its section, where it came from, what it applies to. */
function tableTitle(file: ElfFile, t: RelocationTable): string {
  const section = t.section === undefined ? undefined : file.sections[t.section]?.name;
  const where = section === undefined || section === t.source ? `${t.source} (${t.format.toUpperCase()}` : `${section} (${t.source}`;
  const applies = t.appliesTo === undefined ? '' : `, applies to ${file.sections[t.appliesTo]?.name || `section ${t.appliesTo}`}`;
  const count = t.format === 'relr' ? plural(t.addresses!.length, 'address', 'addresses') : plural(t.entries.length, 'entry', 'entries');
  return `Relocations in ${where}, ${count}${applies})`;
}

/** The symbol as readelf -r names it: with its version when it is a dynamic symbol. */
function relocationSymbol(file: ElfFile, t: RelocationTable, r: Relocation): string {
  if (r.sym === 0) return '';
  if (t.symbols === 'dynamic' && r.sym < file.dynamicSymbols.length && file.dynamicSymbols[r.sym]!.type !== elf.STT_SECTION) return file.versionedName(r.sym);
  return r.symbolName === '' ? `#${r.sym}` : r.symbolName;
}

const relocsPart: InspectPart = {
  flag: 'relocs',
  text(file, out) {
    if (file.relocationTables.length === 0) {
      out.push('', 'Relocations: none');
      return;
    }
    for (const t of file.relocationTables) {
      out.push('', tableTitle(file, t));
      if (t.format === 'relr') {
        for (const a of t.addresses!) out.push(`  ${hex(a, 8)}`);
        continue;
      }
      append(
        out,
        table(
          t.entries.map((r) => [hex(r.r_offset, 8), r.typeName, relocationSymbol(file, t, r), signedHex(r.r_addend)]),
          { header: ['Offset', 'Type', 'Symbol', 'Addend'] },
        ),
      );
    }
  },
  json: (file) => ({
    relocationTables: file.relocationTables.map((t) => ({
      ...t,
      sectionName: t.section === undefined ? null : (file.sections[t.section]?.name ?? null),
      entries: t.entries.map((r) => ({ ...r, symbol: relocationSymbol(file, t, r) })),
      addresses: t.addresses === undefined ? undefined : [...t.addresses],
    })),
  }),
};

const VER_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [1, 'BASE'],
  [2, 'WEAK'],
  [4, 'INFO'],
];
function versionFlags(flags: number): string {
  const names = VER_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
  const rest = flags & ~7;
  if (rest !== 0) names.push(hex(rest));
  return names.length === 0 ? 'none' : names.join(' | ');
}

const versionsPart: InspectPart = {
  flag: 'version-info',
  text(file, out) {
    if (file.versionDefinitions.length === 0 && file.versionNeeds.length === 0) {
      out.push('', 'Versions: none');
      return;
    }
    if (file.versionDefinitions.length > 0) {
      out.push('', `Version definitions (${file.versionDefinitions.length})`);
      append(
        out,
        table(
          file.versionDefinitions.map((d) => [String(d.vd_ndx), versionFlags(d.vd_flags), d.name, d.parents.join(', ')]),
          { header: ['Index', 'Flags', 'Name', 'Parents'], align: ['right'] },
        ),
      );
    }
    if (file.versionNeeds.length > 0) {
      out.push('', `Version needs (${file.versionNeeds.length} file${file.versionNeeds.length === 1 ? '' : 's'})`);
      const rows: string[][] = [];
      for (const n of file.versionNeeds) for (const v of n.versions) rows.push([String(v.vna_other), versionFlags(v.vna_flags), v.name, n.file]);
      append(out, table(rows, { header: ['Index', 'Flags', 'Name', 'File'], align: ['right'] }));
    }
  },
  json: (file) => ({ versions: { definitions: file.versionDefinitions, needs: file.versionNeeds } }),
};

const notesPart: InspectPart = {
  flag: 'notes',
  text(file, out) {
    if (file.notes.length === 0) {
      out.push('', 'Notes: none');
      return;
    }
    out.push('', `Notes (${file.notes.length})`);
    append(
      out,
      table(
        file.notes.map((n) => [n.source, n.name, grouped(n.desc.length), n.typeName, n.text.replace(/\n\t/g, '; ')]),
        { header: ['Where', 'Owner', 'Size', 'Type', 'Description'], align: ['left', 'left', 'right'] },
      ),
    );
  },
  json: (file) => ({
    notes: file.notes.map((n) => ({
      ...n,
      desc: Buffer.from(n.desc).toString('hex'),
      properties: n.properties?.map((p) => ({ ...p, data: Buffer.from(p.data).toString('hex') })),
    })),
    buildId: file.buildId ?? null,
  }),
};

const unwindPart: InspectPart = {
  flag: 'unwind',
  text(file, out) {
    append(out, unwindText(file));
  },
  json: (file) => ({ unwind: unwindJson(file) }),
};

/** The parts in report order; `dlbind inspect --<flag>` prints only the parts it names. */
export const INSPECT_PARTS: readonly InspectPart[] = [
  fileHeader,
  segmentsPart,
  sectionsPart,
  dynamicPart,
  dynSymsPart,
  symtabPart,
  relocsPart,
  versionsPart,
  notesPart,
  unwindPart,
];

/** The parts to print for the flags given: `--symbols` means both tables, as readelf's does; none means all. */
function selected(only: readonly string[]): readonly InspectPart[] {
  if (only.length === 0) return INSPECT_PARTS;
  const flags = new Set(only);
  if (flags.has('symbols')) flags.add('dyn-syms');
  return INSPECT_PARTS.filter((p) => flags.has(p.flag));
}

/** The text report, as lines: every part, or only those whose flags are in `only`; names escaped (printable). */
export function inspectText(file: ElfFile, name: string, size: number, only: readonly string[] = []): string[] {
  const out: string[] = [];
  const all = only.length === 0;
  if (all) out.push(`${name}: ELF64 ${kindOf(file.header.e_type)}, ${file.machine}, ${grouped(size)} bytes`);
  for (const part of selected(only)) part.text(file, out);
  if (file.warnings.length > 0) out.push('', 'Warnings', ...file.warnings.map((w) => `  ${w}`));
  if (!all && out[0] === '') out.shift();
  for (let i = 0; i < out.length; i++) out[i] = printable(out[i]!);
  return out;
}

function symbolJson(s: ElfSymbol): Record<string, unknown> {
  return { ...s, typeName: elf.STT.name(s.type), bindName: elf.STB.name(s.bind), visibilityName: elf.STV.name(s.visibility) };
}

/** The JSON report: the reader's fields, plus the names of constants (`typeName`, `flagsText`, ...); exact, never escaped. */
export function inspectJson(file: ElfFile, name: string, size: number, only: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { file: name, size, machine: file.machine };
  for (const part of selected(only)) Object.assign(out, part.json(file));
  if (only.length === 0) out.relocations = file.relocations;
  out.warnings = file.warnings;
  return out;
}

/** JSON.stringify with bigints as hex strings ("0x1000", "-0x10"). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? (v < 0n ? `-${hex(-v)}` : hex(v)) : v), 2);
}
