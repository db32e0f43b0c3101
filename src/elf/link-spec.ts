// The linking part of a SharedObjectSpec (imports, code references, symbol
// versions, RELR, build-id, runpath, flags), checked field by field and turned
// into the writer's PlanLinks.
import { IMPORT_SPEC_KEYS, REFERENCE_SPEC_KEYS, VERSION_SPEC_KEYS, unknownKey, unknownKeyMessage } from './checks.js';
import { STB_GLOBAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT } from './constants.js';
import { ElfBuildError } from './errors.js';
import type { PlanCodeReference, PlanImport, PlanLinks, PlanSymbolWord, PlanTarget } from './links.js';
import { REFERENCE_ENCODINGS, type ReferenceEncoding } from './relocations.js';
import type { Machine } from './types.js';
import type { PlanSymbol } from './writer.js';

/** An undefined symbol the object uses, found at load in its `needed` libraries. */
export interface ImportSpec {
  /** The symbol's name; `name@VERSION` sets `version` too. */
  name: string;
  /** The version needed (written to .gnu.version_r), e.g. 'GLIBC_2.14'. */
  version?: string;
  /** The library (DT_NEEDED name) providing `version`; default: the only `needed` entry. Added to `needed` if missing. */
  from?: string;
  /** Default 'func' when code calls it through the PLT, else 'notype'. */
  kind?: 'func' | 'object' | 'notype';
  /** 'weak': the object loads even when nothing defines it (its address is then 0). Default 'global'. */
  binding?: 'global' | 'weak';
}

/**
 * "The bytes at `offset` of `symbol` are a PC-relative reference to `target`", resolved
 * when the object is written. On x86_64 the field is a rel32 (`call`, `jmp`, `lea`,
 * `mov [rip + disp]`) and the addend defaults to -4 (the field is the instruction's last 4
 * bytes); on aarch64 the instruction's immediate is patched (`bl`, `adrp` + `ldr`, `adrp` + `add`).
 */
export interface ReferenceSpec {
  /** The symbol (usually a function) holding the field, and the field's offset in it. */
  symbol: string;
  /** The field's offset in `symbol` (x86_64), or the instruction's (aarch64). */
  offset: number;
  /** An import or one of the object's own symbols. */
  target: string;
  /**
   * 'plt': call the target (an import through its PLT stub; an own symbol directly);
   * 'got': the address of the target's GOT slot (load the target's address from it);
   * 'direct': the target itself (own symbols only). Default 'plt' for imports, 'direct' for own symbols.
   */
  via?: 'plt' | 'got' | 'direct';
  /** Default: 'rel32' on x86_64; on aarch64 'call26' for calls, 'adrp_ldr' for 'got', 'adrp_add' for data. */
  encoding?: ReferenceEncoding;
  /** Added to the target's address before the distance is taken; default -4 for rel32, else 0. */
  addend?: number;
}

/** Linking options of a SharedObjectSpec. */
export interface LinkSpec {
  /** Undefined dynamic symbols: 'printf', 'memcpy@GLIBC_2.14', or ImportSpec objects. */
  imports?: readonly (string | ImportSpec)[];
  /** PC-relative references in code, resolved by the writer (through a PLT and GOT it builds for imports). */
  references?: readonly ReferenceSpec[];
  /** Pack relative relocations as DT_RELR (glibc 2.36+). Default false. */
  relr?: boolean;
  /** Write .note.gnu.build-id (SHA-1 of the output). Default false. */
  buildId?: boolean;
  /** DT_RUNPATH, e.g. '$ORIGIN'. */
  runpath?: string;
  /** Bind every import at load (DF_BIND_NOW, DF_1_NOW). Default true when there are imports; false binds PLT calls lazily. */
  bindNow?: boolean;
  /** Make the GOT read-only once ld.so has filled it (PT_GNU_RELRO, GNU ld's -z relro; with bindNow, .got.plt too). Default false. */
  relro?: boolean;
  /** Extra DT_FLAGS bits (DF_*). */
  flags?: number;
  /** Extra DT_FLAGS_1 bits (DF_1_*). */
  flags1?: number;
  /**
   * The versions the object defines, in order, as a version script lists them: 'V1', or
   * { name: 'V2', parent: 'V1' } for `V2 { ... } V1;`. Versions that only symbols name are added after these.
   */
  versions?: readonly (
    | string
    | {
        /** The version's name. */
        name: string;
        /** The version it inherits from, listed before it. */
        parent?: string;
      }
  )[];
}

const KIND = { func: STT_FUNC, object: STT_OBJECT, notype: STT_NOTYPE } as const;
const VIAS = ['plt', 'got', 'direct'] as const;

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw new ElfBuildError('must be a non-empty string without NUL', field);
  return value;
}

function checkKeys(obj: object, known: readonly string[], field: string): void {
  const key = unknownKey(obj, known);
  if (key !== undefined) throw new ElfBuildError(unknownKeyMessage(key, known, 'field'), field);
}

function integer(value: unknown, field: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw new ElfBuildError(`must be an integer${min === 0 ? ' >= 0' : ''}, got ${String(value)}`, field);
  return value;
}

/** Collects the links of one spec while the builder parses it. */
export class LinkPlanner {
  readonly imports: PlanImport[] = [];
  readonly words: PlanSymbolWord[] = [];
  private readonly importIndex = new Map<string, number>();
  private readonly explicitKind: boolean[] = [];

  constructor(
    private readonly spec: LinkSpec,
    private readonly machine: Machine,
    /** The spec's needed list, copied: imports' libraries are appended. */
    readonly needed: string[],
    private readonly ownSymbol: (name: string) => number | undefined,
  ) {
    const list = spec.imports ?? [];
    if (!Array.isArray(list)) throw new ElfBuildError('must be an array', 'imports');
    list.forEach((entry, i) => {
      const at = `imports[${i}]`;
      const obj: ImportSpec = typeof entry === 'string' ? { name: entry } : entry;
      if (obj === null || typeof obj !== 'object') throw new ElfBuildError('must be a name or an object', at);
      checkKeys(obj, IMPORT_SPEC_KEYS, at);
      let name = text(obj.name, `${at}.name`);
      let version = obj.version === undefined ? undefined : text(obj.version, `${at}.version`);
      const atSign = name.indexOf('@');
      if (atSign >= 0) {
        if (version !== undefined) throw new ElfBuildError("gives a version twice ('name@VERSION' and 'version')", at);
        version = name.slice(atSign + 1);
        name = name.slice(0, atSign);
        if (name === '' || version === '' || version.includes('@')) throw new ElfBuildError(`'${obj.name}' is not 'name@VERSION'`, `${at}.name`);
      }
      if (this.importIndex.has(name)) throw new ElfBuildError(`duplicate import '${name}'`, `${at}.name`);
      if (ownSymbol(name) !== undefined) throw new ElfBuildError(`'${name}' is defined in the object itself`, `${at}.name`);
      let file: string | undefined;
      if (obj.from !== undefined) file = text(obj.from, `${at}.from`);
      if (version !== undefined && file === undefined) {
        if (needed.length !== 1)
          throw new ElfBuildError(`a versioned import needs 'from' (which of ${needed.length} needed libraries defines ${version})`, `${at}.from`);
        file = needed[0];
      }
      if (file !== undefined && !needed.includes(file)) needed.push(file);
      const kind = obj.kind;
      if (kind !== undefined && !(kind in KIND))
        throw new ElfBuildError(`must be one of 'func', 'object', 'notype', got ${JSON.stringify(kind)}`, `${at}.kind`);
      const binding = obj.binding ?? 'global';
      if (binding !== 'global' && binding !== 'weak') throw new ElfBuildError(`must be 'global' or 'weak', got ${JSON.stringify(binding)}`, `${at}.binding`);
      this.importIndex.set(name, this.imports.length);
      this.explicitKind.push(kind !== undefined);
      this.imports.push({ name, version, file, type: KIND[kind ?? 'notype'], bind: binding === 'weak' ? STB_WEAK : STB_GLOBAL });
    });
  }

  importOf(name: string): number | undefined {
    return this.importIndex.get(name);
  }

  /** A data word holding import `imp`'s address. */
  addWord(section: PlanSymbol['section'], offset: number, imp: number, relocation: unknown, addend: number, field: string): void {
    if (relocation !== undefined && relocation !== 'abs64' && relocation !== 'glob_dat')
      throw new ElfBuildError(`must be 'abs64' or 'glob_dat', got ${JSON.stringify(relocation)}`, `${field}.relocation`);
    const got = relocation === 'glob_dat';
    if (got && addend !== 0) throw new ElfBuildError('a glob_dat word has no addend', `${field}.addend`);
    this.words.push({ section, offset, import: imp, got, addend });
  }

  /** The finished links, or undefined when the spec uses none of them (the object is then written as before). */
  finish(symbolAt: (i: number) => PlanSymbol, symbolVersions: ({ version: string; hidden?: boolean } | undefined)[] | undefined): PlanLinks | undefined {
    const spec = this.spec;
    const list = spec.references ?? [];
    if (!Array.isArray(list)) throw new ElfBuildError('must be an array', 'references');
    const references: PlanCodeReference[] = list.map((r, i) => {
      const at = `references[${i}]`;
      if (r === null || typeof r !== 'object') throw new ElfBuildError('must be an object', at);
      checkKeys(r, REFERENCE_SPEC_KEYS, at);
      const holder = this.ownSymbol(text(r.symbol, `${at}.symbol`));
      if (holder === undefined) throw new ElfBuildError(`no symbol named '${r.symbol}'`, `${at}.symbol`);
      const h = symbolAt(holder);
      if (h.section === 'bss') throw new ElfBuildError('a reference cannot live in .bss', `${at}.symbol`);
      const targetName = text(r.target, `${at}.target`);
      const own = this.ownSymbol(targetName);
      const imp = own === undefined ? this.importOf(targetName) : undefined;
      if (own === undefined && imp === undefined) throw new ElfBuildError(`no symbol or import named '${targetName}'`, `${at}.target`);
      const target: PlanTarget = own !== undefined ? { symbol: own } : { import: imp! };
      const via = r.via ?? (own !== undefined ? 'direct' : 'plt');
      if (!VIAS.includes(via)) throw new ElfBuildError(`must be one of 'plt', 'got', 'direct', got ${JSON.stringify(via)}`, `${at}.via`);
      if (via === 'direct' && own === undefined) throw new ElfBuildError(`import '${targetName}' can only be reached through 'plt' or 'got'`, `${at}.via`);
      if (via === 'plt' && imp !== undefined && !this.explicitKind[imp]) this.imports[imp]!.type = STT_FUNC;
      const encoding = r.encoding ?? this.defaultEncoding(via, own !== undefined ? symbolAt(own) : undefined);
      if (!REFERENCE_ENCODINGS.includes(encoding))
        throw new ElfBuildError(`must be one of ${REFERENCE_ENCODINGS.join(', ')}, got ${JSON.stringify(encoding)}`, `${at}.encoding`);
      if (this.machine === 'x86_64' && encoding !== 'rel32') throw new ElfBuildError(`'${encoding}' is an aarch64 encoding`, `${at}.encoding`);
      const offset = integer(r.offset, `${at}.offset`, 0);
      const size = encoding === 'rel32' || encoding === 'call26' ? 4 : 8;
      if (offset + size > h.size) throw new ElfBuildError(`offset ${offset} + ${size} exceeds the symbol's size ${h.size}`, `${at}.offset`);
      const addend = r.addend === undefined ? (encoding === 'rel32' && this.machine === 'x86_64' ? -4 : 0) : integer(r.addend, `${at}.addend`);
      return { section: h.section, offset: h.offset + offset, target, via, encoding, addend, field: at };
    });
    for (const key of ['relr', 'buildId', 'bindNow', 'relro'] as const) {
      if (spec[key] !== undefined && typeof spec[key] !== 'boolean') throw new ElfBuildError(`must be a boolean, got ${JSON.stringify(spec[key])}`, key);
    }
    const versionList = spec.versions ?? [];
    if (!Array.isArray(versionList)) throw new ElfBuildError('must be an array', 'versions');
    const versions = versionList.map((v, i) => {
      const at = `versions[${i}]`;
      const entry = typeof v === 'string' ? { name: v } : v;
      if (entry === null || typeof entry !== 'object') throw new ElfBuildError('must be a name or { name, parent }', at);
      checkKeys(entry, VERSION_SPEC_KEYS, at);
      const name = text(entry.name, `${at}.name`);
      const parent = entry.parent === undefined ? undefined : text(entry.parent, `${at}.parent`);
      if (parent !== undefined && !versionList.slice(0, i).some((p) => (typeof p === 'string' ? p : p?.name) === parent))
        throw new ElfBuildError(`parent '${parent}' is not a version listed before it`, `${at}.parent`);
      return { name, parent };
    });

    const runpath = spec.runpath === undefined ? undefined : text(spec.runpath, 'runpath');
    const flags = spec.flags === undefined ? undefined : integer(spec.flags, 'flags', 0);
    const flags1 = spec.flags1 === undefined ? undefined : integer(spec.flags1, 'flags1', 0);
    const used =
      this.imports.length > 0 ||
      references.length > 0 ||
      symbolVersions !== undefined ||
      versions.length > 0 ||
      spec.relr === true ||
      spec.buildId === true ||
      runpath !== undefined ||
      spec.bindNow !== undefined ||
      spec.relro === true ||
      flags !== undefined ||
      flags1 !== undefined;
    if (!used) return undefined;
    return {
      imports: this.imports,
      words: this.words,
      references,
      symbolVersions: symbolVersions ?? (versions.length > 0 ? [] : undefined),
      versions,
      relr: spec.relr,
      buildId: spec.buildId,
      runpath,
      bindNow: spec.bindNow,
      relro: spec.relro,
      flags,
      flags1,
    };
  }

  private defaultEncoding(via: 'plt' | 'got' | 'direct', own: PlanSymbol | undefined): ReferenceEncoding {
    if (this.machine === 'x86_64') return 'rel32';
    if (via === 'got') return 'adrp_ldr';
    if (via === 'plt' || own?.section === 'text') return 'call26';
    return 'adrp_add';
  }
}
