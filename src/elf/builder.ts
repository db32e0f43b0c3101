// The offline builder: a user-facing spec (symbols with their bytes) becomes
// an ObjectPlan (sections packed, symbols at offsets), then bytes.
import { grownTo, isPowerOfTwo } from './bytes.js';
import {
  ELF64_ST_INFO,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STV_DEFAULT,
  STV_HIDDEN,
  STV_INTERNAL,
  STV_PROTECTED,
} from './constants.js';
import { framePointerCfi } from './cfi.js';
import { POINTER_SPEC_KEYS, SHARED_OBJECT_SPEC_KEYS, SYMBOL_SPEC_KEYS, describeValue, toByteArray, unknownKey, unknownKeyMessage } from './checks.js';
import { ElfBuildError } from './errors.js';
import { type LinkSpec, LinkPlanner } from './link-spec.js';
import { type PlanColumns, SECTION_CODE, symbolAt } from './columns.js';
import { checkColumns, type SymbolColumns } from './column-spec.js';
import { findDuplicateName, type NameColumn, NAME_JOIN_BATCH, NameColumnBuilder, NameLookup, nameAt } from './names.js';
import type { ContentSectionName } from './layout.js';
import type { Machine } from './types.js';
import { type HashStyle, type ObjectLayout, type ObjectPlan, type PlanRelocation, type PlanSymbol, prepareObject, writeObject } from './writer.js';

/** A symbol's type: STT_FUNC, STT_OBJECT or STT_NOTYPE. */
export type SymbolKind = 'func' | 'object' | 'notype';
/** A symbol's binding: STB_GLOBAL or STB_WEAK. */
export type SymbolBinding = 'global' | 'weak';
/** A symbol's visibility: STV_DEFAULT, STV_PROTECTED, STV_HIDDEN or STV_INTERNAL. */
export type SymbolVisibility = 'default' | 'protected' | 'hidden' | 'internal';

/** One symbol of a SharedObjectSpec: its name, section and contents. */
export interface SymbolSpec {
  /** The symbol's name: non-empty, no NUL. */
  name: string;
  /** STT_FUNC, STT_OBJECT or STT_NOTYPE. Default: 'func' in text, 'object' elsewhere. */
  kind?: SymbolKind;
  /** Which section holds it. */
  section: ContentSectionName;
  /** Initial contents (not for 'bss'): a Uint8Array, any other ArrayBuffer view, or an array of byte values. */
  bytes?: ArrayBufferView | readonly number[];
  /** Size in bytes: required for 'bss'; elsewhere it defaults to `bytes.length` and may pad it with zeroes. */
  size?: number | bigint;
  /** Alignment, a power of two. Default: 16 in text, 8 elsewhere. */
  align?: number;
  /** Default 'global'. */
  binding?: SymbolBinding;
  /** Default 'default'. Hidden and internal symbols are kept out of .dynsym, as linkers do. */
  visibility?: SymbolVisibility;
  /** The version it is defined in (.gnu.version_d), as a version script gives: found by dlvsym(h, name, version). */
  version?: string;
  /** false: `name@version`, found only by dlvsym and by programs linked against that version. Default true (`name@@version`). */
  defaultVersion?: boolean;
  /**
   * Unwind rules for a function in text: 'frame-pointer' (the standard prologue
   * at offset 0) or the FDE's call-frame instructions after the CIE's initial
   * rules (see `cfi()`). The object then has .eh_frame, .eh_frame_hdr and PT_GNU_EH_FRAME.
   */
  unwind?: UnwindSpec;
}

/** A function's unwind rules: the frame-pointer preset, or call-frame instruction bytes. */
export type UnwindSpec = 'frame-pointer' | Uint8Array | readonly number[];

/** The call-frame instructions an UnwindSpec stands for. Throws ElfBuildError naming `field`. */
export function unwindInstructions(machine: Machine, unwind: unknown, field: string): Uint8Array {
  if (unwind === 'frame-pointer') return framePointerCfi(machine);
  if (unwind instanceof Uint8Array || Array.isArray(unwind)) return toBytes(unwind, field);
  throw new ElfBuildError(`must be 'frame-pointer' or call-frame instruction bytes, got ${JSON.stringify(unwind)}`, field);
}

/** A pointer-sized word inside a data symbol that must hold another symbol's run-time address. */
export interface PointerSpec {
  /** The symbol holding the word, and the word's offset in it. */
  symbol: string;
  /** The word's offset in `symbol`. Default 0. */
  offset?: number;
  /** The symbol pointed to (one of the object's own, or an import), plus `addend` bytes. */
  target: string;
  /** Bytes added to the target's address. Default 0. */
  addend?: number;
  /** For an import: 'abs64' (R_*_64 / ABS64, the default) or 'glob_dat' (a GOT-style slot, no addend). */
  relocation?: 'abs64' | 'glob_dat';
}

/** What buildSharedObject builds: symbols with their contents, and the object's soname, dependencies and hash tables. */
export interface SharedObjectSpec extends LinkSpec {
  /** Default 'x86_64'. */
  machine?: Machine;
  /** DT_SONAME. */
  soname?: string;
  /** DT_NEEDED entries, in order. */
  needed?: readonly string[];
  /** Which hash tables to write. Default 'both'. */
  hashStyle?: HashStyle;
  /** The symbols and their contents, in .dynsym order. */
  symbols?: readonly SymbolSpec[];
  /** More symbols, given as columns (one block or several): for generators that hold names and code in bulk. They follow `symbols`. */
  columns?: SymbolColumns | readonly SymbolColumns[];
  /** Pointers between symbols, written as RELATIVE relocations. */
  pointers?: readonly PointerSpec[];
  /** Segment alignment. Default 4096 on x86_64, 65536 on aarch64 (safe for 4K, 16K and 64K kernels). */
  pageSize?: number;
  /** Write .symtab/.strtab as well as .dynsym. Default true. */
  staticSymbols?: boolean;
  /** Put .dynamic in the writable segment (default, as linkers do) or in a read-only one. */
  dynamicWritable?: boolean;
}

const KINDS: Record<SymbolKind, number> = { func: STT_FUNC, object: STT_OBJECT, notype: STT_NOTYPE };
const BINDINGS: Record<SymbolBinding, number> = { global: STB_GLOBAL, weak: STB_WEAK };
const VISIBILITIES: Record<SymbolVisibility, number> = {
  default: STV_DEFAULT,
  protected: STV_PROTECTED,
  hidden: STV_HIDDEN,
  internal: STV_INTERNAL,
};
const SECTIONS: readonly ContentSectionName[] = ['text', 'rodata', 'data', 'bss'];
const KIND_NAMES: readonly SymbolKind[] = ['func', 'object', 'notype'];
const BINDING_NAMES: readonly SymbolBinding[] = ['global', 'weak'];
const VISIBILITY_NAMES: readonly SymbolVisibility[] = ['default', 'protected', 'hidden', 'internal'];

/** The segment alignment a spec gets without `pageSize`: 4 KiB on x86_64, 64 KiB on aarch64 (which loads on 4K, 16K and 64K kernels). */
export const DEFAULT_PAGE_SIZE: Record<Machine, number> = { x86_64: 4096, aarch64: 65536 };

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new ElfBuildError(`must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`, field);
  }
  return value as T;
}

export function checkSymbolName(name: unknown, field: string): string {
  if (typeof name !== 'string') throw new ElfBuildError(`must be a string, got ${typeof name}`, field);
  if (name.length === 0) throw new ElfBuildError('must not be empty', field);
  if (name.includes('\0')) throw new ElfBuildError('must not contain NUL', field);
  return name;
}

function checkSize(value: unknown, field: string): number {
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ElfBuildError(`must be a non-negative integer, got ${describeValue(value)}`, field);
  }
  return value;
}

function toBytes(value: unknown, field: string): Uint8Array {
  const bytes = toByteArray(value);
  if (typeof bytes === 'string') throw new ElfBuildError(bytes, field);
  return bytes;
}

function checkKeys(obj: object, known: readonly string[], field: string | undefined): void {
  const key = unknownKey(obj, known);
  if (key !== undefined) throw new ElfBuildError(unknownKeyMessage(key, known, 'field'), field);
}

/** The listed symbols as they are placed: the plan's columns, and each section's running size, alignment and bytes. */
interface Placing {
  readonly machine: Machine;
  readonly names: NameColumnBuilder;
  readonly section: Uint8Array;
  readonly offset: Float64Array;
  readonly size: Float64Array;
  readonly info: Uint8Array;
  readonly other: Uint8Array;
  readonly sizes: number[];
  readonly aligns: number[];
  /** Each section's bytes so far (zero-filled past them), grown as symbols with bytes come; undefined while none had any. */
  readonly contents: (Uint8Array | undefined)[];
  unwind: Uint8Array[] | undefined;
  versions: ({ version: string; hidden?: boolean } | undefined)[] | undefined;
}

/**
 * Checks and places `list[0, count)`, writing each symbol's bytes straight into its section's
 * buffer. A function of its own, and the one loop in it: V8 optimizes it while it runs (on-stack
 * replacement) without compiling the rest of the planner, and leaves it without a deoptimization.
 */
function placeListed(list: readonly SymbolSpec[], count: number, st: Placing): void {
  const { names, section: sectionCodes, offset: offsets, size: symbolSizes, info, other, sizes, aligns, contents } = st;
  const field = (i: number, f?: string) => (f === undefined ? `symbols[${i}]` : `symbols[${i}].${f}`);
  // Names go into the column a batch at a time, joined into one string (see pushJoined).
  const pending = new Array<string>(NAME_JOIN_BATCH);
  const lengths = new Uint32Array(NAME_JOIN_BATCH);
  let waiting = 0;
  let firstWaiting = 0;
  let i = 0;
  try {
    for (; i < count; i++) {
      const s = list[i]!;
      if (s === null || typeof s !== 'object') throw new ElfBuildError(`must be an object, got ${describeValue(s)}`, field(i));
      // SYMBOL_SPEC_KEYS as string compares (cheaper than a Set lookup before V8 optimizes this loop);
      // a key missed here is looked up in the list itself.
      for (const key in s) {
        switch (key) {
          case 'name':
          case 'section':
          case 'bytes':
          case 'size':
          case 'align':
          case 'kind':
          case 'binding':
          case 'visibility':
          case 'version':
          case 'defaultVersion':
          case 'unwind':
            continue;
        }
        if (Object.hasOwn(s, key)) checkKeys(s, SYMBOL_SPEC_KEYS, field(i));
      }
      const name = s.name;
      if (typeof name !== 'string' || name.length === 0) checkSymbolName(name, field(i, 'name'));
      pending[waiting] = name;
      lengths[waiting] = name.length;
      if (++waiting === NAME_JOIN_BATCH) {
        addNames(names, pending, lengths, waiting, firstWaiting);
        waiting = 0;
        firstWaiting = i + 1;
      }
      const rawSection: unknown = s.section;
      // Section codes as SECTION_CODE numbers them.
      const code = rawSection === 'text' ? 0 : rawSection === 'rodata' ? 1 : rawSection === 'data' ? 2 : rawSection === 'bss' ? 3 : -1;
      if (code < 0) {
        if (rawSection === undefined) throw new ElfBuildError('is required', field(i, 'section'));
        oneOf(rawSection, SECTIONS, field(i, 'section'), 'text');
      }
      const kind = s.kind;
      const binding = s.binding;
      const visibility = s.visibility;
      const type = kind === undefined ? (code === 0 ? STT_FUNC : STT_OBJECT) : KINDS[oneOf<SymbolKind>(kind, KIND_NAMES, field(i, 'kind'), 'func')];
      const bind = binding === undefined ? STB_GLOBAL : BINDINGS[oneOf<SymbolBinding>(binding, BINDING_NAMES, field(i, 'binding'), 'global')];
      const stOther =
        visibility === undefined ? STV_DEFAULT : VISIBILITIES[oneOf<SymbolVisibility>(visibility, VISIBILITY_NAMES, field(i, 'visibility'), 'default')];
      const align = s.align ?? (code === 0 ? 16 : 8);
      if (align !== 16 && align !== 8 && !isPowerOfTwo(align)) throw new ElfBuildError(`must be a power of two, got ${String(align)}`, field(i, 'align'));
      const rawBytes = s.bytes;
      const rawSize = s.size;
      let bytes: Uint8Array | undefined;
      let size: number;
      if (code === 3) {
        if (rawBytes !== undefined) throw new ElfBuildError("is not allowed in 'bss' (use 'data')", field(i, 'bytes'));
        size = checkSize(rawSize, field(i, 'size'));
      } else {
        if (rawBytes === undefined && rawSize === undefined) throw new ElfBuildError("needs 'bytes' or 'size'", field(i));
        bytes = rawBytes === undefined ? undefined : rawBytes instanceof Uint8Array ? rawBytes : toBytes(rawBytes, field(i, 'bytes'));
        const length = bytes === undefined ? 0 : bytes.length;
        size = rawSize === undefined ? length : checkSize(rawSize, field(i, 'size'));
        if (size < length) throw new ElfBuildError(`is smaller than bytes (${length})`, field(i, 'size'));
      }
      const end = sizes[code]!;
      const offset = alignUp(end, align);
      sizes[code] = offset + size;
      if (align > aligns[code]!) aligns[code] = align;
      if (bytes !== undefined) {
        const length = bytes.length;
        if (length > 0) {
          let content = contents[code];
          if (content === undefined || offset + length > content.length)
            content = contents[code] = roomFor(content, offset + length, count - i - 1, size % align === 0 ? size : size + align - (size % align));
          if (length <= 16) for (let k = 0; k < length; k++) content[offset + k] = bytes[k]!;
          else content.set(bytes, offset);
        }
      }
      const hidden = stOther === STV_HIDDEN || stOther === STV_INTERNAL;
      sectionCodes[i] = code;
      offsets[i] = offset;
      symbolSizes[i] = size;
      info[i] = ((hidden ? STB_LOCAL : bind) << 4) | type;
      other[i] = stOther;
      if (s.unwind !== undefined) {
        if (code !== 0) throw new ElfBuildError('unwind rules are for functions in text', field(i, 'unwind'));
        (st.unwind ??= [])[i] = unwindInstructions(st.machine, s.unwind, field(i, 'unwind'));
      }
      if (s.version !== undefined || s.defaultVersion !== undefined) {
        const version = checkSymbolName(s.version, field(i, 'version'));
        if (hidden) throw new ElfBuildError('a hidden symbol has no version', field(i, 'version'));
        if (s.defaultVersion !== undefined && typeof s.defaultVersion !== 'boolean') throw new ElfBuildError('must be a boolean', field(i, 'defaultVersion'));
        (st.versions ??= [])[i] = { version, hidden: s.defaultVersion === false };
      }
    }
  } catch (err) {
    // A name with a NUL before the symbol that failed is the first error, as when names went in one by one.
    addNames(names, pending, lengths, waiting, firstWaiting);
    throw err;
  }
  addNames(names, pending, lengths, waiting, firstWaiting);
}

/** Adds the first `waiting` of `pending` (symbols `first`, `first + 1`, ...) to the name column; throws naming the first with a NUL. */
function addNames(names: NameColumnBuilder, pending: string[], lengths: Uint32Array, waiting: number, first: number): void {
  if (waiting === 0) return;
  const bad = names.pushJoined((waiting === pending.length ? pending : pending.slice(0, waiting)).join(''), lengths, waiting);
  if (bad >= 0) throw new ElfBuildError('must not contain NUL', `symbols[${first + bad}].name`);
}

/**
 * A section buffer of at least `need` bytes holding `c`'s. The first one is sized for `rest` more
 * symbols like the one just placed (its size rounded up to its alignment, `step`, at most 64
 * counted each), so that a list of like symbols fills it without growing it; after that, it doubles.
 */
function roomFor(c: Uint8Array | undefined, need: number, rest: number, step: number): Uint8Array {
  return c === undefined ? new Uint8Array(need + Math.min(step, 64) * rest) : grownTo(c, Math.max(need, c.length * 2));
}

/**
 * `end` rounded up to `align` (a power of two). In int32 bits below 2 GiB: a remainder of doubles
 * is a call to fmod even in optimized code, the larger part of placing a million symbols. Above,
 * remainders, not a division: no fractional intermediate (a boxed number before the loop is optimized).
 */
function alignUp(end: number, align: number): number {
  if (end + align < 0x80000000) return (end + align - 1) & -align;
  return end % align === 0 ? end : end + align - (end % align);
}

/** Turns a spec into a plan: checks every field, packs each section, places each symbol. */
export function planSharedObject(spec: SharedObjectSpec): ObjectPlan {
  return planOf(spec, false);
}

/**
 * planSharedObject's work. With `borrowNames`, a names buffer of the bulk form is planned as it is,
 * not copied: only for a plan built from at once, which the caller cannot change in between.
 */
function planOf(spec: SharedObjectSpec, borrowNames: boolean): ObjectPlan {
  if (spec === null || typeof spec !== 'object') throw new ElfBuildError(`spec must be an object, got ${describeValue(spec)}`);
  checkKeys(spec, SHARED_OBJECT_SPEC_KEYS, undefined);
  const machine = oneOf<Machine>(spec.machine, ['x86_64', 'aarch64'], 'machine', 'x86_64');
  const hashStyle = oneOf<HashStyle>(spec.hashStyle, ['sysv', 'gnu', 'both'], 'hashStyle', 'both');
  if (spec.soname !== undefined) checkSymbolName(spec.soname, 'soname');
  const needed = spec.needed ?? [];
  if (!Array.isArray(needed)) throw new ElfBuildError('must be an array of strings', 'needed');
  needed.forEach((n, i) => checkSymbolName(n, `needed[${i}]`));
  const pageSize = spec.pageSize ?? DEFAULT_PAGE_SIZE[machine];
  if (!isPowerOfTwo(pageSize) || pageSize < 4096) throw new ElfBuildError(`must be a power of two of at least 4096, got ${String(pageSize)}`, 'pageSize');
  const list = spec.symbols ?? [];
  if (!Array.isArray(list)) throw new ElfBuildError('must be an array', 'symbols');

  const blocks = checkColumns(spec.columns, borrowNames);
  const listCount = list.length;
  let n = listCount;
  let blockNameBytes = 0;
  for (const block of blocks) {
    n += block.names.count;
    blockNameBytes += block.names.start[block.names.count]!;
  }
  // One block alone is the name column as it stands (no copy); listed names are joined first.
  const alone = listCount === 0 && blocks.length === 1 ? blocks[0]!.names : undefined;

  const st: Placing = {
    machine,
    names: new NameColumnBuilder(alone ? 0 : n, alone ? 0 : listCount * 16 + blockNameBytes),
    section: new Uint8Array(n),
    offset: new Float64Array(n),
    // One block alone: its sizes (the writer's own copy) are the plan's.
    size: alone ? blocks[0]!.sizes : new Float64Array(n),
    info: new Uint8Array(n),
    other: new Uint8Array(n),
    sizes: [0, 0, 0, 0],
    aligns: [16, 8, 8, 8],
    contents: [undefined, undefined, undefined, undefined],
    unwind: undefined,
    versions: undefined,
  };
  placeListed(list, listCount, st);
  const { names, sizes, aligns, contents } = st;
  const sectionCodes = st.section;
  const offsets = st.offset;
  const symbolSizes = st.size;
  const info = st.info;
  const other = st.other;
  const unwind = st.unwind;
  const symbolVersions = st.versions;
  const field = (i: number, f?: string) => (f === undefined ? `symbols[${i}]` : `symbols[${i}].${f}`);
  // Column blocks follow the listed symbols, each placed as its SymbolSpecs would be.
  let first = listCount;
  for (const block of blocks) {
    const code = SECTION_CODE[block.section];
    const type =
      block.kind === undefined
        ? block.section === 'text'
          ? STT_FUNC
          : STT_OBJECT
        : KINDS[oneOf<SymbolKind>(block.kind, KIND_NAMES, `${block.field}.kind`, 'func')];
    const binding = block.binding === undefined ? STB_GLOBAL : BINDINGS[oneOf<SymbolBinding>(block.binding, BINDING_NAMES, `${block.field}.binding`, 'global')];
    const visibility =
      block.visibility === undefined
        ? STV_DEFAULT
        : VISIBILITIES[oneOf<SymbolVisibility>(block.visibility, VISIBILITY_NAMES, `${block.field}.visibility`, 'default')];
    const hidden = visibility === STV_HIDDEN || visibility === STV_INTERNAL;
    const stInfo = ELF64_ST_INFO(hidden ? STB_LOCAL : binding, type);
    const align = block.align;
    let end = sizes[code]!;
    const count = block.names.count;
    const blockSizes = block.sizes;
    sectionCodes.fill(code, first, first + count);
    info.fill(stInfo, first, first + count);
    other.fill(visibility, first, first + count);
    if (blockSizes !== symbolSizes) symbolSizes.set(blockSizes, first);
    for (let j = 0; j < count; j++) {
      const offset = alignUp(end, align);
      end = offset + blockSizes[j]!;
      offsets[first + j] = offset;
    }
    sizes[code] = end;
    if (count > 0 && align > aligns[code]!) aligns[code] = align;
    first += count;
  }
  let nameColumn: NameColumn;
  if (alone) nameColumn = alone;
  else {
    for (const block of blocks) names.append(block.names);
    nameColumn = names.finish();
  }
  // Where symbol i came from, for messages: symbols[i] or columns[b].names[j].
  const origin = (i: number): string => {
    if (i < listCount) return field(i, 'name');
    let at = listCount;
    for (const block of blocks) {
      if (i < at + block.names.count) return `${block.field}.names[${i - at}]`;
      at += block.names.count;
    }
    return `symbols[${i}]`;
  };
  const twin = findDuplicateName(nameColumn);
  if (twin !== undefined) {
    const [i, j] = twin;
    const where = origin(j).replace(/\.name$/, '');
    throw new ElfBuildError(`duplicate symbol name '${nameAt(nameColumn, i)}' (also ${where})`, origin(i));
  }
  const columns: PlanColumns = {
    count: n,
    names: nameColumn,
    section: sectionCodes,
    offset: offsets,
    size: symbolSizes,
    info,
    other,
    unwind,
  };
  const lookup = new NameLookup(nameColumn);
  const indexOf = (name: string): number | undefined => {
    const i = lookup.find(name);
    return i < 0 ? undefined : i;
  };

  const linker = new LinkPlanner(spec, machine, [...needed], indexOf);
  const relocations: PlanRelocation[] = [];
  const pointers = spec.pointers ?? [];
  if (!Array.isArray(pointers)) throw new ElfBuildError('must be an array', 'pointers');
  for (const key of ['staticSymbols', 'dynamicWritable'] as const) {
    if (spec[key] !== undefined && typeof spec[key] !== 'boolean') throw new ElfBuildError(`must be a boolean, got ${JSON.stringify(spec[key])}`, key);
  }
  if (spec.soname !== undefined && typeof spec.soname !== 'string') throw new ElfBuildError('must be a string', 'soname');
  pointers.forEach((ptr, i) => {
    const at = `pointers[${i}]`;
    if (ptr === null || typeof ptr !== 'object') throw new ElfBuildError(`must be an object, got ${describeValue(ptr)}`, at);
    checkKeys(ptr, POINTER_SPEC_KEYS, at);
    const holder = indexOf(checkSymbolName(ptr.symbol, `${at}.symbol`));
    const target = indexOf(checkSymbolName(ptr.target, `${at}.target`));
    if (holder === undefined) throw new ElfBuildError(`no symbol named '${ptr.symbol}'`, `${at}.symbol`);
    const imported = target === undefined ? linker.importOf(ptr.target) : undefined;
    if (target === undefined && imported === undefined) throw new ElfBuildError(`no symbol or import named '${ptr.target}'`, `${at}.target`);
    const h = symbolAt(columns, holder);
    const offset = checkSize(ptr.offset ?? 0, `${at}.offset`);
    if (h.section === 'text') throw new ElfBuildError('pointers cannot live in text (that would need a text relocation)', `${at}.symbol`);
    if (offset + 8 > h.size) throw new ElfBuildError(`offset ${offset} + 8 exceeds the symbol's size ${h.size}`, `${at}.offset`);
    const addend = ptr.addend ?? 0;
    if (!Number.isSafeInteger(addend)) throw new ElfBuildError('must be an integer', `${at}.addend`);
    if (imported !== undefined) return linker.addWord(h.section, h.offset + offset, imported, ptr.relocation, addend, at);
    if (ptr.relocation !== undefined) throw new ElfBuildError(`is for imports; '${ptr.target}' is the object's own`, `${at}.relocation`);
    const t = symbolAt(columns, target!);
    relocations.push({ section: h.section, offset: h.offset + offset, target: t.section, targetOffset: t.offset + addend });
  });

  const sections = {} as ObjectPlan['sections'];
  for (const name of SECTIONS) sections[name] = { size: sizes[SECTION_CODE[name]]!, align: aligns[SECTION_CODE[name]]! };
  // Each section's bytes, at its final size: the listed symbols' bytes are already in place.
  for (const block of blocks) {
    const code = SECTION_CODE[block.section];
    if (block.bytes !== undefined && block.names.count > 0 && contents[code] === undefined) contents[code] = new Uint8Array(0);
  }
  for (const name of SECTIONS) {
    const code = SECTION_CODE[name];
    const c = contents[code];
    if (c === undefined) continue;
    const size = sizes[code]!;
    // A view when the buffer is about the section's size; a copy when its first guess left it
    // mostly unused (one text symbol before a million data ones), so that the plan keeps no waste.
    const content = c.length === size ? c : c.length > size ? (c.length - size > size ? c.slice(0, size) : c.subarray(0, size)) : grownTo(c, size);
    contents[code] = content;
    sections[name].content = content;
  }
  first = listCount;
  for (const block of blocks) {
    const count = block.names.count;
    const src = block.bytes;
    if (src !== undefined && count > 0) {
      const content = contents[SECTION_CODE[block.section]]!;
      const from = block.offsets;
      const blockSizes = block.sizes;
      // Without offsets the bytes lie back to back from 0.
      let next = 0;
      for (let j = 0; j < count; j++) {
        const size = blockSizes[j]!;
        const a = from === undefined ? next : from[j]!;
        next = a + size;
        const at = offsets[first + j]!;
        if (size <= 16) for (let k = 0; k < size; k++) content[at + k] = src[a + k]!;
        else content.set(src.subarray(a, a + size), at);
      }
    }
    first += count;
  }
  return {
    machine,
    soname: spec.soname,
    needed: linker.needed,
    hashStyle,
    pageSize,
    sections,
    // Objects only for a caller who reads them (plan-then-build looks up offsets by name):
    // the writer itself reads the columns.
    get symbols(): readonly PlanSymbol[] {
      const list = Array.from({ length: columns.count }, (_, i) => symbolAt(columns, i));
      Object.defineProperty(this, 'symbols', { value: list, enumerable: true });
      return list;
    },
    columns,
    relocations,
    dynamicWritable: spec.dynamicWritable ?? true,
    staticSymbols: spec.staticSymbols ?? true,
    links: linker.finish((i) => symbolAt(columns, i), symbolVersions),
  };
}

/** Builds a complete ELF64 shared object (ET_DYN) from a spec. Throws ElfBuildError naming the bad field. */
export function buildSharedObject(spec: SharedObjectSpec): Uint8Array {
  return buildFromPlan(planOf(spec, true)).bytes;
}

/** Builds from a plan and also returns where everything was placed. */
export function buildFromPlan(plan: ObjectPlan): {
  /** The shared object's bytes. */
  bytes: Uint8Array;
  /** Where each table, section and segment went. */
  layout: ObjectLayout;
} {
  const prepared = prepareObject(plan);
  const bytes = new Uint8Array(prepared.layout.fileSize);
  writeObject(prepared, bytes);
  return { bytes, layout: prepared.layout };
}
