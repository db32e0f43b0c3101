// The writer's symbols as columns: one typed array per field and one name
// buffer, instead of one object per symbol. This is what the writer's core
// reads; the object form (PlanSymbol) is turned into it once.
import { ELF64_ST_INFO } from './constants.js';
import { ElfBuildError } from './errors.js';
import { CONTENT_SECTIONS, type ContentSectionName } from './layout.js';
import { type NameColumn, encodeNames, nameAt } from './names.js';
import type { PlanSymbol } from './writer.js';

/** Section codes of PlanColumns.section: indexes into CONTENT_SECTIONS. */
export const SECTION_CODE: Record<ContentSectionName, number> = { text: 0, rodata: 1, data: 2, bss: 3 };

/** Symbols of an ObjectPlan as columns: symbol i is entry i of each array. */
export interface PlanColumns {
  /** How many symbols. */
  readonly count: number;
  /** Their names, in symbol order. */
  readonly names: NameColumn;
  /** SECTION_CODE of each symbol's section. */
  readonly section: Uint8Array;
  /** Offset from the start of its section. */
  readonly offset: Float64Array;
  /** st_size. */
  readonly size: Float64Array;
  /** st_info: ELF64_ST_INFO(bind, type); STB_LOCAL symbols go to .symtab only. */
  readonly info: Uint8Array;
  /** st_other: the STV_* visibility. */
  readonly other: Uint8Array;
  /** Call-frame instructions of the symbols that get an FDE (sparse; undefined when none has one). */
  readonly unwind?: readonly (Uint8Array | undefined)[];
}

/** Columns of symbols given as objects. */
export function columnsOf(symbols: readonly PlanSymbol[]): PlanColumns {
  const n = symbols.length;
  const names: string[] = [];
  const section = new Uint8Array(n);
  const offset = new Float64Array(n);
  const size = new Float64Array(n);
  const info = new Uint8Array(n);
  const other = new Uint8Array(n);
  let unwind: (Uint8Array | undefined)[] | undefined;
  for (let i = 0; i < n; i++) {
    const s = symbols[i]!;
    names.push(s.name);
    const code = SECTION_CODE[s.section];
    if (code === undefined || !Object.hasOwn(SECTION_CODE, s.section))
      throw new ElfBuildError(`unknown section '${String(s.section)}'`, `symbols[${i}].section`);
    section[i] = code;
    offset[i] = s.offset;
    size[i] = s.size;
    info[i] = ELF64_ST_INFO(s.bind, s.type);
    other[i] = s.visibility & 3;
    if (s.unwind !== undefined) (unwind ??= [])[i] = s.unwind;
  }
  return { count: n, names: encodeNames(names, (i) => `symbols[${i}].name`, true), section, offset, size, info, other, unwind };
}

/** Symbol i as an object (for the rare paths that want one: links, messages). */
export function symbolAt(c: PlanColumns, i: number): PlanSymbol {
  const s: PlanSymbol = {
    name: nameAt(c.names, i),
    section: CONTENT_SECTIONS[c.section[i]!]!,
    offset: c.offset[i]!,
    size: c.size[i]!,
    type: c.info[i]! & 0xf,
    bind: c.info[i]! >> 4,
    visibility: c.other[i]!,
  };
  const u = c.unwind?.[i];
  if (u !== undefined) s.unwind = u;
  return s;
}

/** The name of a plan's symbol i, whichever form the plan holds its symbols in. */
export function planSymbolName(plan: { readonly symbols: readonly PlanSymbol[]; readonly columns?: PlanColumns }, i: number): string {
  return plan.columns !== undefined ? nameAt(plan.columns.names, i) : plan.symbols[i]!.name;
}
