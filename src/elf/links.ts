// Everything a shared object needs to link against others and to be linked
// against: imported (undefined) dynamic symbols, their versions and those of
// the exports, the GOT and PLT, symbolic and relative dynamic relocations
// (RELA or RELR), code references the writer resolves, the build-id note,
// DT_RUNPATH and DT_FLAGS. The writer asks this module for its extra
// sections, dynamic entries and relocations; an object without any of these
// features never builds one, so its bytes stay as they were.
import { BUILD_ID_NOTE_SIZE, fillBuildId, writeBuildIdHeader } from './build-id.js';
import {
  DT_FLAGS,
  DT_FLAGS_1,
  DT_JMPREL,
  DT_PLTGOT,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_RELA,
  DT_RELR,
  DT_RELRENT,
  DT_RELRSZ,
  DT_RUNPATH,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERSYM,
  ELF64_R_INFO,
  ELF64_ST_INFO,
  RELA64_SIZE,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_INFO_LINK,
  SHF_WRITE,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_NOTE,
  SHT_PROGBITS,
  SHT_RELA,
  SHT_RELR,
  SYM64_SIZE,
} from './constants.js';
import { ElfBuildError } from './errors.js';
import { gotPltSize, gotPltSlotAddr, PLT_SHAPE, pltEntryAddr, pltSize, writePltAndGot } from './got-plt.js';
import { CONTENT_SECTIONS, type ContentSectionName, type ExtraSection, type Layout } from './layout.js';
import { applyReference, DYNAMIC_RELOCATIONS, type ReferenceEncoding, referenceSize } from './relocations.js';
import { encodeRelr } from './relr.js';
import type { StringTableBuilder } from './strtab.js';
import type { DynamicEntry } from './types.js';
import { VERSYM_HIDDEN, VER_NDX_GLOBAL, type VersionNeed, VersionTables } from './versions.js';
import type { ObjectPlan } from './writer.js';
import type { PlanColumns } from './columns.js';

export const DF_BIND_NOW = 0x8;
export const DF_1_NOW = 0x1;
/** The version glibc 2.36+ requires of an object with DT_RELR that has version needs and uses libc. */
export const GLIBC_ABI_DT_RELR = 'GLIBC_ABI_DT_RELR';
const LIBC = 'libc.so.6';

/** An undefined dynamic symbol: resolved by ld.so in the object's DT_NEEDED libraries. */
export interface PlanImport {
  /** The symbol's name, without a version. */
  name: string;
  /** STT_* (STT_FUNC, STT_OBJECT or STT_NOTYPE). */
  type: number;
  /** STB_GLOBAL or STB_WEAK (a weak import may stay unresolved: its address is then 0). */
  bind: number;
  /** The version needed (`memcpy@GLIBC_2.14`), from `file`. */
  version?: string;
  /** The DT_NEEDED name providing `version`. */
  file?: string;
}

/** What a reference or word points at: an import or one of the plan's own symbols. */
export type PlanTarget =
  | {
      /** An index into the plan's `imports`. */
      import: number;
    }
  | {
      /** An index into the plan's symbols. */
      symbol: number;
    };

/** A pointer-sized data word holding an import's address: R_*_64 (+ addend) or GLOB_DAT. */
export interface PlanSymbolWord {
  /** The section holding the word. */
  section: ContentSectionName;
  /** The word's offset in that section. */
  offset: number;
  /** The import it holds the address of (an index into `imports`). */
  import: number;
  /** A GLOB_DAT slot (true) or an R_*_64 word with `addend` (false). */
  got: boolean;
  /** Bytes added to the import's address. */
  addend: number;
}

/** A PC-relative field in the plan's code, resolved by the writer. */
export interface PlanCodeReference {
  /** The section holding the field. */
  section: ContentSectionName;
  /** The field's (x86_64) or instruction's (aarch64) offset in that section. */
  offset: number;
  /** What the field reaches. */
  target: PlanTarget;
  /** Through the target's PLT stub (own symbols: called directly), its GOT slot, or to the target itself. */
  via: 'plt' | 'got' | 'direct';
  /** How the field is patched: rel32, call26, adrp_ldr or adrp_add. */
  encoding: ReferenceEncoding;
  /** Added to the target's address before the PC-relative distance is taken. */
  addend: number;
  /** For messages: the spec field this came from. */
  field?: string;
}

/** Dynamic linking features of an ObjectPlan (all optional). */
export interface PlanLinks {
  /** Undefined symbols found in the DT_NEEDED libraries at load. */
  imports?: readonly PlanImport[];
  /** Data words holding imports' addresses. */
  words?: readonly PlanSymbolWord[];
  /** PC-relative fields in code, patched by the writer. */
  references?: readonly PlanCodeReference[];
  /** By plan symbol index: the version an exported symbol is defined in (`hidden`: `name@V`, not the default). */
  symbolVersions?: readonly (
    | {
        /** The version's name. */
        version: string;
        /** `name@V` (not the default version) rather than `name@@V`. */
        hidden?: boolean;
      }
    | undefined
  )[];
  /** Versions defined in this order (those only symbols name follow), each with the version it inherits from. */
  versions?: readonly {
    /** The version's name. */
    name: string;
    /** The version it inherits from. */
    parent?: string;
  }[];
  /** Pack relative relocations as DT_RELR. */
  relr?: boolean;
  /** Write .note.gnu.build-id. */
  buildId?: boolean;
  /** DT_RUNPATH. */
  runpath?: string;
  /** DF_BIND_NOW and DF_1_NOW (default true when the object has imports). */
  bindNow?: boolean;
  /** Put .got (and with bindNow .got.plt) in a segment ld.so makes read-only after relocating (PT_GNU_RELRO). */
  relro?: boolean;
  /** More DT_FLAGS and DT_FLAGS_1 bits. */
  flags?: number;
  /** More DT_FLAGS_1 bits. */
  flags1?: number;
}

/** A relative relocation: the word at `where` holds `value` + the load base. */
export interface RelativeWord {
  where: bigint;
  value: bigint;
  inBss?: boolean;
}

interface GotEntry {
  target: PlanTarget;
}

const key = (t: PlanTarget) => ('import' in t ? `i${t.import}` : `s${t.symbol}`);

/** The plan's links with every name reserved and every count known. */
export class PreparedLinks {
  readonly imports: readonly PlanImport[];
  readonly versions: VersionTables;
  readonly plt: number[] = [];
  readonly got: GotEntry[] = [];
  private readonly pltIndex = new Map<number, number>();
  private readonly gotIndex = new Map<string, number>();
  private readonly importNameIds: number[];
  private readonly runpathId: number;
  readonly relr: boolean;
  private relrWords: bigint[] = [];
  private relrSize = 0;
  private readonly flags: number;
  private readonly flags1: number;
  private readonly bindNow: boolean;

  constructor(
    private readonly plan: ObjectPlan,
    private readonly links: PlanLinks,
    dynstr: StringTableBuilder,
    private readonly columns: PlanColumns,
  ) {
    this.imports = links.imports ?? [];
    this.importNameIds = this.imports.map((imp) => dynstr.add(imp.name));
    for (const r of links.references ?? []) {
      if (r.via === 'plt' && 'import' in r.target) {
        if (!this.pltIndex.has(r.target.import)) {
          this.pltIndex.set(r.target.import, this.plt.length);
          this.plt.push(r.target.import);
        }
      } else if (r.via === 'got') {
        const k = key(r.target);
        if (!this.gotIndex.has(k)) {
          this.gotIndex.set(k, this.got.length);
          this.got.push({ target: r.target });
        }
      }
    }
    const hasRelatives = plan.relocations.some((r) => r.section !== 'bss') || this.got.some((g) => 'symbol' in g.target);
    this.relr = links.relr === true && hasRelatives;

    const defs: string[] = [];
    const parents = new Map<string, string>();
    for (const v of links.versions ?? []) {
      if (!defs.includes(v.name)) defs.push(v.name);
      if (v.parent !== undefined) parents.set(v.name, v.parent);
    }
    for (const v of links.symbolVersions ?? []) if (v !== undefined && !defs.includes(v.version)) defs.push(v.version);
    const needs: { file: string; versions: string[] }[] = [];
    const need = (file: string, version: string) => {
      let n = needs.find((x) => x.file === file);
      if (n === undefined) needs.push((n = { file, versions: [] }));
      if (!n.versions.includes(version)) n.versions.push(version);
    };
    for (const imp of this.imports) if (imp.version !== undefined) need(imp.file!, imp.version);
    if (this.relr && needs.length > 0 && plan.needed.includes(LIBC)) need(LIBC, GLIBC_ABI_DT_RELR);
    this.versions = new VersionTables(plan.soname, defs, needs as VersionNeed[], dynstr, parents);
    this.runpathId = links.runpath !== undefined ? dynstr.add(links.runpath) : -1;
    const bindNow = links.bindNow ?? this.imports.length > 0;
    this.bindNow = bindNow;
    this.flags = (links.flags ?? 0) | (bindNow ? DF_BIND_NOW : 0);
    this.flags1 = (links.flags1 ?? 0) | (bindNow ? DF_1_NOW : 0);
  }

  get importCount(): number {
    return this.imports.length;
  }

  /** Relative relocations that stay in .rela.dyn: all, or with RELR only those of words in .bss (no file bytes to hold an implicit addend). */
  get relativeRelaCount(): number {
    if (this.relr) return this.plan.relocations.filter((r) => r.section === 'bss').length;
    return this.plan.relocations.length + this.got.filter((g) => 'symbol' in g.target).length;
  }

  /** Entries of .rela.dyn: relative ones first (as DT_RELACOUNT requires), then symbolic. */
  get relaCount(): number {
    return this.relativeRelaCount + (this.links.words?.length ?? 0) + this.got.filter((g) => 'import' in g.target).length;
  }

  get sectionNames(): string[] {
    return ['.gnu.version', '.gnu.version_d', '.gnu.version_r', '.rela.plt', '.relr.dyn', '.note.gnu.build-id', '.plt', '.got', '.got.plt'];
  }

  /** The extra sections, in address order, for a .dynsym of `dynsymSlots` entries. */
  extraSections(dynsymSlots: number): ExtraSection[] {
    const m = this.plan.machine;
    const out: ExtraSection[] = [];
    if (this.versions.present) out.push({ key: '.gnu.version', segment: 'meta', size: dynsymSlots * 2, align: 2 });
    if (this.versions.defCount > 0) out.push({ key: '.gnu.version_d', segment: 'meta', size: this.versions.verdefSize, align: 8 });
    if (this.versions.needCount > 0) out.push({ key: '.gnu.version_r', segment: 'meta', size: this.versions.verneedSize, align: 8 });
    if (this.plt.length > 0) out.push({ key: '.rela.plt', segment: 'meta', size: this.plt.length * RELA64_SIZE, align: 8 });
    if (this.relr) out.push({ key: '.relr.dyn', segment: 'meta', size: this.relrSize, align: 8 });
    if (this.links.buildId) out.push({ key: '.note.gnu.build-id', segment: 'meta', size: BUILD_ID_NOTE_SIZE, align: 4, note: true });
    if (this.plt.length > 0) out.push({ key: '.plt', segment: 'text', size: pltSize(m, this.plt.length), align: PLT_SHAPE[m].align });
    // Lazy binding writes .got.plt at run time: it is read-only after relocation only with BIND_NOW.
    const relro = this.links.relro === true;
    if (this.got.length > 0) out.push({ key: '.got', segment: relro ? 'relro' : 'data', size: this.got.length * 8, align: 8 });
    if (this.plt.length > 0) out.push({ key: '.got.plt', segment: relro && this.bindNow ? 'relro' : 'data', size: gotPltSize(this.plt.length), align: 8 });
    return out;
  }

  /** Dynamic entries (values filled by `fillDynamic`), to go before DT_NULL. */
  dynamicEntries(): DynamicEntry[] {
    const d: DynamicEntry[] = [];
    const add = (d_tag: number, d_val = 0n) => d.push({ d_tag, d_val });
    if (this.runpathId >= 0) add(DT_RUNPATH);
    if (this.plt.length > 0) {
      add(DT_PLTGOT);
      add(DT_PLTRELSZ, BigInt(this.plt.length * RELA64_SIZE));
      add(DT_PLTREL, BigInt(DT_RELA));
      add(DT_JMPREL);
    }
    if (this.relr) {
      add(DT_RELR);
      add(DT_RELRSZ);
      add(DT_RELRENT, 8n);
    }
    if (this.flags !== 0) add(DT_FLAGS, BigInt(this.flags));
    if (this.flags1 !== 0) add(DT_FLAGS_1, BigInt(this.flags1));
    if (this.versions.present) add(DT_VERSYM);
    if (this.versions.defCount > 0) {
      add(DT_VERDEF);
      add(DT_VERDEFNUM, BigInt(this.versions.defCount));
    }
    if (this.versions.needCount > 0) {
      add(DT_VERNEED);
      add(DT_VERNEEDNUM, BigInt(this.versions.needCount));
    }
    return d;
  }

  /** Fills the addresses and string offsets of the entries `dynamicEntries` gave. */
  fillDynamic(dynamic: DynamicEntry[], layout: Layout, dynstr: StringTableBuilder): void {
    const at = (k: string) => BigInt(layout.extra[k]?.addr ?? 0);
    for (const d of dynamic) {
      if (d.d_tag === DT_RUNPATH) d.d_val = BigInt(dynstr.offsetOf(this.runpathId));
      else if (d.d_tag === DT_PLTGOT) d.d_val = at('.got.plt');
      else if (d.d_tag === DT_JMPREL) d.d_val = at('.rela.plt');
      else if (d.d_tag === DT_RELR) d.d_val = at('.relr.dyn');
      else if (d.d_tag === DT_RELRSZ) d.d_val = BigInt(this.relrSize);
      else if (d.d_tag === DT_VERSYM) d.d_val = at('.gnu.version');
      else if (d.d_tag === DT_VERDEF) d.d_val = at('.gnu.version_d');
      else if (d.d_tag === DT_VERNEED) d.d_val = at('.gnu.version_r');
    }
  }

  /**
   * Recomputes the RELR table for a layout; returns true when its size changed
   * (the caller then lays out again: addresses move only by whole pages, so a second pass settles).
   */
  settleRelr(layout: Layout): boolean {
    if (!this.relr) return false;
    this.relrWords = encodeRelr(
      this.relativeWords(layout)
        .filter((r) => !r.inBss)
        .map((r) => r.where),
    );
    const size = this.relrWords.length * 8;
    const changed = size !== this.relrSize;
    this.relrSize = size;
    return changed;
  }

  private gotSlotAddr(layout: Layout, t: PlanTarget): bigint {
    const i = this.gotIndex.get(key(t));
    if (i === undefined) throw new ElfBuildError('internal error: no GOT slot');
    return BigInt(layout.extra['.got']!.addr + i * 8);
  }

  private symbolAddr(layout: Layout, i: number): bigint {
    return BigInt(layout.content[CONTENT_SECTIONS[this.columns.section[i]!]!].addr + this.columns.offset[i]!);
  }

  /** Every relative relocation: the plan's pointers between its own sections, and GOT slots of own symbols. */
  relativeWords(layout: Layout): RelativeWord[] {
    const out: RelativeWord[] = [];
    for (const r of this.plan.relocations) {
      out.push({
        where: BigInt(layout.content[r.section].addr + r.offset),
        value: BigInt(layout.content[r.target].addr + r.targetOffset),
        inBss: r.section === 'bss',
      });
    }
    for (const g of this.got) {
      if ('symbol' in g.target) out.push({ where: this.gotSlotAddr(layout, g.target), value: this.symbolAddr(layout, g.target.symbol) });
    }
    return out;
  }

  /** The .gnu.version entry of each .dynsym slot: imports at 1.., then the exports in `dynOrder`. */
  private versym(dynOrder: Int32Array): Uint16Array {
    const v = new Uint16Array(1 + this.imports.length + dynOrder.length);
    this.imports.forEach((imp, k) => {
      v[k + 1] = imp.version === undefined ? VER_NDX_GLOBAL : this.versions.needIndex(imp.file!, imp.version);
    });
    const versions = this.links.symbolVersions ?? [];
    const base = 1 + this.imports.length;
    for (let k = 0; k < dynOrder.length; k++) {
      const sv = versions[dynOrder[k]!];
      v[base + k] = sv === undefined ? VER_NDX_GLOBAL : this.versions.defIndex(sv.version) | (sv.hidden ? VERSYM_HIDDEN : 0);
    }
    return v;
  }

  /** The undefined .dynsym entries, at slots 1 .. importCount. */
  writeImportSymbols(view: DataView, dynsymOffset: number, dynstr: StringTableBuilder): void {
    this.imports.forEach((imp, k) => {
      const at = dynsymOffset + (k + 1) * SYM64_SIZE;
      view.setUint32(at, dynstr.offsetOf(this.importNameIds[k]!), true);
      view.setUint8(at + 4, ELF64_ST_INFO(imp.bind, imp.type));
      // st_other, st_shndx (SHN_UNDEF), st_value and st_size stay 0
    });
  }

  /**
   * Writes every table of its own (versions, PLT, GOT, relocations) and resolves the code references.
   * `dynsymIndexOfImport(k)` is import k's .dynsym index.
   */
  write(out: Uint8Array, layout: Layout, dynstr: StringTableBuilder, dynOrder: Int32Array, dynamicAddr: bigint): void {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const m = this.plan.machine;
    const types = DYNAMIC_RELOCATIONS[m];
    const ex = layout.extra;
    if (ex['.gnu.version']) {
      const v = this.versym(dynOrder);
      for (let k = 0; k < v.length; k++) view.setUint16(ex['.gnu.version'].offset + k * 2, v[k]!, true);
    }
    if (ex['.gnu.version_d']) this.versions.writeVerdef(view, ex['.gnu.version_d'].offset, dynstr);
    if (ex['.gnu.version_r']) this.versions.writeVerneed(view, ex['.gnu.version_r'].offset, dynstr);

    const gotOffset = (addr: bigint) => ex['.got']!.offset + Number(addr - BigInt(ex['.got']!.addr));
    const relatives = this.relativeWords(layout);
    // Each relocated word holds its link-time value too, as linkers write it: RELR's addend is that value.
    for (const r of this.plan.relocations) {
      if (r.offset < 0 || r.offset + 8 > this.plan.sections[r.section].size)
        throw new ElfBuildError(`relocation at .${r.section}+${r.offset} lies outside the section`, 'relocations');
      if (r.section !== 'bss') view.setBigUint64(layout.content[r.section].offset + r.offset, BigInt(layout.content[r.target].addr + r.targetOffset), true);
    }
    for (const g of this.got) {
      if ('symbol' in g.target) view.setBigUint64(gotOffset(this.gotSlotAddr(layout, g.target)), this.symbolAddr(layout, g.target.symbol), true);
    }
    // .rela.dyn: relative first (DT_RELACOUNT counts them), then symbolic.
    if (layout.rela) {
      let at = layout.rela.offset;
      const rela = (where: bigint, sym: number, type: number, addend: bigint) => {
        view.setBigUint64(at, where, true);
        view.setBigUint64(at + 8, ELF64_R_INFO(sym, type), true);
        view.setBigInt64(at + 16, addend, true);
        at += RELA64_SIZE;
      };
      for (const r of relatives) if (!this.relr || r.inBss) rela(r.where, 0, types.relative, r.value);
      for (const w of this.links.words ?? []) {
        const where = BigInt(layout.content[w.section].addr + w.offset);
        rela(where, w.import + 1, w.got ? types.globDat : types.abs64, BigInt(w.addend));
      }
      for (const g of this.got) if ('import' in g.target) rela(this.gotSlotAddr(layout, g.target), g.target.import + 1, types.globDat, 0n);
      if (at !== layout.rela.offset + layout.rela.size) throw new ElfBuildError('internal layout error: .rela.dyn size');
    }
    if (this.relr) {
      const relr = ex['.relr.dyn']!;
      if (this.relrWords.length * 8 !== relr.size) throw new ElfBuildError('internal layout error: .relr.dyn size');
      this.relrWords.forEach((w, i) => view.setBigUint64(relr.offset + i * 8, w, true));
    }
    if (this.plt.length > 0) {
      const plt = ex['.plt']!;
      const gotPlt = ex['.got.plt']!;
      writePltAndGot(m, view, plt.offset, BigInt(plt.addr), gotPlt.offset, BigInt(gotPlt.addr), this.plt.length, dynamicAddr);
      const relaPlt = ex['.rela.plt']!;
      this.plt.forEach((imp, k) => {
        const at = relaPlt.offset + k * RELA64_SIZE;
        view.setBigUint64(at, gotPltSlotAddr(BigInt(gotPlt.addr), k), true);
        view.setBigUint64(at + 8, ELF64_R_INFO(imp + 1, types.jumpSlot), true);
        view.setBigInt64(at + 16, 0n, true);
      });
    }
    if (ex['.note.gnu.build-id']) writeBuildIdHeader(view, ex['.note.gnu.build-id'].offset);

    for (const r of this.links.references ?? []) {
      const sec = layout.content[r.section];
      const field = r.field ?? 'references';
      if (r.offset < 0 || r.offset + referenceSize(r.encoding) > this.plan.sections[r.section].size || r.section === 'bss')
        throw new ElfBuildError(`offset ${r.offset} lies outside .${r.section}`, field);
      let target: bigint;
      if (r.via === 'got') target = this.gotSlotAddr(layout, r.target);
      else if ('symbol' in r.target) target = this.symbolAddr(layout, r.target.symbol);
      else if (r.via === 'plt') target = pltEntryAddr(m, BigInt(ex['.plt']!.addr), this.pltIndex.get(r.target.import)!);
      else throw new ElfBuildError('an import can only be reached through its PLT stub or its GOT slot', field);
      applyReference(view, sec.offset + r.offset, BigInt(sec.addr + r.offset), target + BigInt(r.addend), r.encoding, field);
    }
  }

  /** Last, once every other byte is final. */
  finish(out: Uint8Array, layout: Layout): void {
    const note = layout.extra['.note.gnu.build-id'];
    if (note) fillBuildId(out, note.offset);
  }

  /** Section header fields of an extra section, or undefined for a key that is not one. */
  sectionHeader(
    k: string,
    index: (key: string) => number,
  ): { sh_type: number; sh_flags: number; sh_link: number; sh_info: number; sh_entsize: number } | undefined {
    const dynsym = index('.dynsym');
    const dynstr = index('.dynstr');
    switch (k) {
      case '.gnu.version':
        return { sh_type: SHT_GNU_VERSYM, sh_flags: SHF_ALLOC, sh_link: dynsym, sh_info: 0, sh_entsize: 2 };
      case '.gnu.version_d':
        return { sh_type: SHT_GNU_VERDEF, sh_flags: SHF_ALLOC, sh_link: dynstr, sh_info: this.versions.defCount, sh_entsize: 0 };
      case '.gnu.version_r':
        return { sh_type: SHT_GNU_VERNEED, sh_flags: SHF_ALLOC, sh_link: dynstr, sh_info: this.versions.needCount, sh_entsize: 0 };
      case '.rela.plt':
        return { sh_type: SHT_RELA, sh_flags: SHF_ALLOC | SHF_INFO_LINK, sh_link: dynsym, sh_info: index('.got.plt'), sh_entsize: RELA64_SIZE };
      case '.relr.dyn':
        return { sh_type: SHT_RELR, sh_flags: SHF_ALLOC, sh_link: 0, sh_info: 0, sh_entsize: 8 };
      case '.note.gnu.build-id':
        return { sh_type: SHT_NOTE, sh_flags: SHF_ALLOC, sh_link: 0, sh_info: 0, sh_entsize: 0 };
      case '.plt':
        return { sh_type: SHT_PROGBITS, sh_flags: SHF_ALLOC | SHF_EXECINSTR, sh_link: 0, sh_info: 0, sh_entsize: this.plan.machine === 'x86_64' ? 16 : 0 };
      case '.got':
      case '.got.plt':
        return { sh_type: SHT_PROGBITS, sh_flags: SHF_ALLOC | SHF_WRITE, sh_link: 0, sh_info: 0, sh_entsize: 8 };
    }
    return undefined;
  }
}
