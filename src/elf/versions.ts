// Symbol versioning (.gnu.version, .gnu.version_d, .gnu.version_r), as GNU ld
// writes it for a version script and for versioned imports. Version indexes:
// 0 local, 1 the unversioned global, then one per definition (the base
// definition, named after the object, is 1 itself), then one per need.
import { ElfBuildError } from './errors.js';
import { elfHashString } from './hash.js';
import type { StringTableBuilder } from './strtab.js';

export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VER_FLG_BASE = 1;
export const VER_FLG_WEAK = 2;
/** Set in a .gnu.version entry: the symbol is not the default version (`name@V`, not `name@@V`). */
export const VERSYM_HIDDEN = 0x8000;
const VERDEF_SIZE = 20;
const VERDAUX_SIZE = 8;
const VERNEED_SIZE = 16;
const VERNAUX_SIZE = 16;

/** One DT_NEEDED file and the versions of it this object needs. */
export interface VersionNeed {
  file: string;
  versions: readonly string[];
}

/** The version tables of one object: names placed in .dynstr, indexes given out, sizes known. */
export class VersionTables {
  readonly defs: readonly string[];
  readonly needs: readonly VersionNeed[];
  private readonly defIds: number[] = [];
  private readonly parentIds: number[] = [];
  private readonly needIds: { file: number; versions: number[] }[] = [];
  private readonly index = new Map<string, number>();

  /**
   * `base` names the object (its soname); `defs` are the versions it defines, `parents` the
   * version each inherits from (a version script's `V2 { ... } V1;`); `needs` those it uses.
   */
  constructor(
    private readonly base: string | undefined,
    defs: readonly string[],
    needs: readonly VersionNeed[],
    dynstr: StringTableBuilder,
    private readonly parents: ReadonlyMap<string, string> = new Map(),
  ) {
    this.defs = defs;
    this.needs = needs;
    if (defs.length > 0) {
      if (base === undefined) throw new ElfBuildError('versioned symbols need a soname (it names the base version)', 'soname');
      this.defIds.push(dynstr.add(base));
      this.parentIds.push(-1);
      defs.forEach((d, i) => {
        this.defIds.push(dynstr.add(d));
        this.index.set(`\0${d}`, i + 2);
        const parent = parents.get(d);
        this.parentIds.push(parent === undefined ? -1 : dynstr.add(parent));
      });
    }
    let next = defs.length > 0 ? defs.length + 2 : 2;
    for (const n of needs) {
      const ids = { file: dynstr.add(n.file), versions: [] as number[] };
      for (const v of n.versions) {
        ids.versions.push(dynstr.add(v));
        this.index.set(`${n.file}\0${v}`, next++);
      }
      this.needIds.push(ids);
    }
    if (next > 0x7fff) throw new ElfBuildError(`too many versions (${next - 1})`, 'versions');
  }

  get present(): boolean {
    return this.defs.length > 0 || this.needs.length > 0;
  }
  /** DT_VERDEFNUM: the base definition included. */
  get defCount(): number {
    return this.defs.length > 0 ? this.defs.length + 1 : 0;
  }
  get needCount(): number {
    return this.needs.length;
  }
  get verdefSize(): number {
    return this.defCount === 0 ? 0 : this.defCount * (VERDEF_SIZE + VERDAUX_SIZE) + this.parents.size * VERDAUX_SIZE;
  }
  get verneedSize(): number {
    return this.needs.reduce((sum, n) => sum + VERNEED_SIZE + n.versions.length * VERNAUX_SIZE, 0);
  }

  /** The .gnu.version index of a version this object defines. */
  defIndex(version: string): number {
    const i = this.index.get(`\0${version}`);
    if (i === undefined) throw new ElfBuildError(`internal error: version '${version}' not defined`);
    return i;
  }
  /** The .gnu.version index of a version needed from `file`. */
  needIndex(file: string, version: string): number {
    const i = this.index.get(`${file}\0${version}`);
    if (i === undefined) throw new ElfBuildError(`internal error: version '${version}' of ${file} not needed`);
    return i;
  }

  /** Writes .gnu.version_d at `offset` (after dynstr.finish()). */
  writeVerdef(view: DataView, offset: number, dynstr: StringTableBuilder): void {
    const names = [this.base!, ...this.defs];
    let at = offset;
    names.forEach((name, i) => {
      // The version's own name, then its parent's (a second Elf64_Verdaux), as GNU ld writes them.
      const parent = this.parentIds[i]!;
      const cnt = parent >= 0 ? 2 : 1;
      const size = VERDEF_SIZE + cnt * VERDAUX_SIZE;
      view.setUint16(at, 1, true); // vd_version
      view.setUint16(at + 2, i === 0 ? VER_FLG_BASE : 0, true); // vd_flags
      view.setUint16(at + 4, i + 1, true); // vd_ndx
      view.setUint16(at + 6, cnt, true); // vd_cnt
      view.setUint32(at + 8, elfHashString(name), true); // vd_hash
      view.setUint32(at + 12, VERDEF_SIZE, true); // vd_aux
      view.setUint32(at + 16, i + 1 < names.length ? size : 0, true); // vd_next
      view.setUint32(at + 20, dynstr.offsetOf(this.defIds[i]!), true); // vda_name
      view.setUint32(at + 24, cnt > 1 ? VERDAUX_SIZE : 0, true); // vda_next
      if (cnt > 1) {
        view.setUint32(at + 28, dynstr.offsetOf(parent), true); // vda_name
        view.setUint32(at + 32, 0, true); // vda_next
      }
      at += size;
    });
  }

  /** Writes .gnu.version_r at `offset` (after dynstr.finish()). */
  writeVerneed(view: DataView, offset: number, dynstr: StringTableBuilder): void {
    let at = offset;
    this.needs.forEach((n, i) => {
      const ids = this.needIds[i]!;
      const size = VERNEED_SIZE + n.versions.length * VERNAUX_SIZE;
      view.setUint16(at, 1, true); // vn_version
      view.setUint16(at + 2, n.versions.length, true); // vn_cnt
      view.setUint32(at + 4, dynstr.offsetOf(ids.file), true); // vn_file
      view.setUint32(at + 8, VERNEED_SIZE, true); // vn_aux
      view.setUint32(at + 12, i + 1 < this.needs.length ? size : 0, true); // vn_next
      n.versions.forEach((v, k) => {
        const a = at + VERNEED_SIZE + k * VERNAUX_SIZE;
        view.setUint32(a, elfHashString(v), true); // vna_hash
        view.setUint16(a + 4, 0, true); // vna_flags
        view.setUint16(a + 6, this.needIndex(n.file, v), true); // vna_other
        view.setUint32(a + 8, dynstr.offsetOf(ids.versions[k]!), true); // vna_name
        view.setUint32(a + 12, k + 1 < n.versions.length ? VERNAUX_SIZE : 0, true); // vna_next
      });
      at += size;
    });
  }
}
