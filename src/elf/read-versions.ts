// Symbol versions: the version definitions (DT_VERDEF, .gnu.version_d), the version needs
// (DT_VERNEED, .gnu.version_r) and what DT_VERSYM says of each dynamic symbol, decoded as
// glibc's _dl_check_map_versions and readelf -V read them.
import type { ByteReader } from './bytes.js';
import { SHN_ABS, SHN_UNDEF } from './constants.js';
import { ElfFormatError } from './errors.js';
import type { ElfSymbol, SymbolVersion, VersionDefinition, VersionNeed } from './types.js';

const VERDEF_SIZE = 20;
const VERDAUX_SIZE = 8;
const VERNEED_SIZE = 16;
const VERNAUX_SIZE = 16;
export const VER_FLG_BASE = 1;
export const VER_FLG_WEAK = 2;
const VERSYM_HIDDEN = 0x8000;

/** A version table located in the input: records may lie anywhere in [offset, limit). */
export interface VersionArea {
  offset: number;
  limit: number;
  /** DT_VERDEFNUM/DT_VERNEEDNUM or the section's sh_info; undefined: follow vd_next to 0, as glibc does. */
  count: number | undefined;
  what: string;
}

/** Records never overlap in a real table, so there can be no more of them than this; it bounds hostile next-chains. */
function recordBudget(area: VersionArea, smallest: number): number {
  return Math.floor((area.limit - area.offset) / smallest) + 1;
}

export function readVersionDefinitions(r: ByteReader, area: VersionArea, name: (index: number, at: number) => string): VersionDefinition[] {
  const out: VersionDefinition[] = [];
  let budget = recordBudget(area, VERDAUX_SIZE);
  let at = area.offset;
  for (;;) {
    if (area.count !== undefined && out.length >= area.count) break;
    if (at + VERDEF_SIZE > area.limit) throw new ElfFormatError(`${area.what}: a version definition runs past its segment`, at);
    if (--budget < 0) throw new ElfFormatError(`${area.what}: more version records than the table has room for`, at);
    const vd_cnt = r.u16(at + 6);
    const vd_aux = r.u32(at + 12);
    const vd_next = r.u32(at + 16);
    const names: string[] = [];
    let aux = at + vd_aux;
    for (let i = 0; i < vd_cnt; i++) {
      if (aux + VERDAUX_SIZE > area.limit) throw new ElfFormatError(`${area.what}: a version name (Elf64_Verdaux) runs past its segment`, at + 12, vd_aux);
      if (--budget < 0) throw new ElfFormatError(`${area.what}: more version records than the table has room for`, aux);
      names.push(name(r.u32(aux), aux));
      const next = r.u32(aux + 4);
      if (next === 0) break;
      aux += next;
    }
    out.push({
      vd_version: r.u16(at),
      vd_flags: r.u16(at + 2),
      vd_ndx: r.u16(at + 4),
      vd_cnt,
      vd_hash: r.u32(at + 8),
      name: names[0] ?? '',
      parents: names.slice(1),
      offset: at,
    });
    if (vd_next === 0) break;
    at += vd_next;
  }
  return out;
}

export function readVersionNeeds(r: ByteReader, area: VersionArea, name: (index: number, at: number) => string): VersionNeed[] {
  const out: VersionNeed[] = [];
  let budget = recordBudget(area, VERNAUX_SIZE);
  let at = area.offset;
  for (;;) {
    if (area.count !== undefined && out.length >= area.count) break;
    if (at + VERNEED_SIZE > area.limit) throw new ElfFormatError(`${area.what}: a version need runs past its segment`, at);
    if (--budget < 0) throw new ElfFormatError(`${area.what}: more version records than the table has room for`, at);
    const vn_cnt = r.u16(at + 2);
    const vn_aux = r.u32(at + 8);
    const vn_next = r.u32(at + 12);
    const need: VersionNeed = { vn_version: r.u16(at), file: name(r.u32(at + 4), at + 4), versions: [], offset: at };
    let aux = at + vn_aux;
    for (let i = 0; i < vn_cnt; i++) {
      if (aux + VERNAUX_SIZE > area.limit) throw new ElfFormatError(`${area.what}: a needed version (Elf64_Vernaux) runs past its segment`, at + 8, vn_aux);
      if (--budget < 0) throw new ElfFormatError(`${area.what}: more version records than the table has room for`, aux);
      need.versions.push({ vna_hash: r.u32(aux), vna_flags: r.u16(aux + 4), vna_other: r.u16(aux + 6), name: name(r.u32(aux + 8), aux + 8), offset: aux });
      const next = r.u32(aux + 12);
      if (next === 0) break;
      aux += next;
    }
    out.push(need);
    if (vn_next === 0) break;
    at += vn_next;
  }
  return out;
}

/** One version index as glibc's link map records it (l_versions[ndx]). */
export interface VersionSlot {
  name: string;
  hash: number;
  file?: string;
}

/** glibc's l_versions: the needs first, then the definitions (a later entry for an index wins). */
export function versionSlots(definitions: readonly VersionDefinition[], needs: readonly VersionNeed[]): Map<number, VersionSlot> {
  const slots = new Map<number, VersionSlot>();
  for (const n of needs) for (const v of n.versions) slots.set(v.vna_other & 0x7fff, { name: v.name, hash: v.vna_hash, file: n.file });
  for (const d of definitions) slots.set(d.vd_ndx & 0x7fff, { name: d.name, hash: d.vd_hash });
  return slots;
}

/** Each dynamic symbol's version, from its DT_VERSYM entry. */
export function symbolVersions(versym: Uint16Array, slots: Map<number, VersionSlot>): SymbolVersion[] {
  const out: SymbolVersion[] = new Array(versym.length);
  for (let i = 0; i < versym.length; i++) {
    const v = versym[i]!;
    const index = v & 0x7fff;
    const slot = index >= 2 ? slots.get(index) : undefined;
    const entry: SymbolVersion = { index, hidden: (v & VERSYM_HIDDEN) !== 0 };
    if (slot !== undefined) {
      entry.name = slot.name;
      if (slot.file !== undefined) entry.file = slot.file;
    }
    out[i] = entry;
  }
  return out;
}

/**
 * The name readelf prints: `name@@VER` for a definition's default version, `name@VER` for a
 * hidden one and for a reference to a needed version; the symbol that names a version itself
 * (SHN_ABS, named as the version) keeps its bare name.
 */
export function versionedName(sym: ElfSymbol, version: SymbolVersion | undefined): string {
  if (version?.name === undefined) return sym.name;
  if (sym.st_shndx === SHN_UNDEF || version.file !== undefined) return `${sym.name}@${version.name}`;
  if (sym.st_shndx === SHN_ABS && sym.name === version.name) return sym.name;
  return `${sym.name}${version.hidden ? '@' : '@@'}${version.name}`;
}
