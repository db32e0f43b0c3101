export { ElfFormatError, ElfBuildError } from './errors.js';
export type * from './types.js';
export * as elf from './constants.js';
export { elfHash, gnuHash } from './hash.js';
export { StringTableBuilder } from './strtab.js';
export {
  buildSharedObject,
  planSharedObject,
  buildFromPlan,
  DEFAULT_PAGE_SIZE,
  type SharedObjectSpec,
  type SymbolSpec,
  type PointerSpec,
  type SymbolKind,
  type SymbolBinding,
  type SymbolVisibility,
} from './builder.js';
export { writeSharedObject, writeFileAtomic } from './file.js';
export type { ObjectPlan, ObjectLayout, PlanSymbol, PlanSection, PlanRelocation, HashStyle } from './writer.js';
export type { ContentSectionName, Placement, SegmentPlacement } from './layout.js';
export { readElf } from './reader.js';
export type { ElfFile, ReadOptions } from './reader.js';
