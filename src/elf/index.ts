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
  type UnwindSpec,
} from './builder.js';
export { CfiBuilder, cfi, framePointerCfi, decodeCfi, type CfaInstruction, type CfiRegister, type CfiMachine } from './cfi.js';
export type { ImportSpec, ReferenceSpec, LinkSpec } from './link-spec.js';
export type { PlanLinks, PlanImport, PlanSymbolWord, PlanCodeReference, PlanTarget } from './links.js';
export type { ReferenceEncoding } from './relocations.js';
export type { ElfNote } from './notes.js';
export type { DecodedNote, GnuProperty } from './read-notes.js';
export type { UnwindInfo } from './unwind-info.js';
export type { ObjectArena } from './object-link.js';
export type { SymbolColumns } from './column-spec.js';
export type { PlanColumns } from './columns.js';
export type { NameColumn } from './names.js';
export type { EhFrame, EhFrameCie, EhFrameFde } from './eh-frame.js';
export type { EhFrameHdr, EhFrameHdrEntry } from './eh-frame-hdr.js';
export { writeSharedObject, writeFileAtomic, type WriteFileOptions } from './file.js';
export type { ObjectPlan, ObjectLayout, PlanSymbol, PlanSection, PlanRelocation, HashStyle } from './writer.js';
export type { ContentSectionName, Placement, SegmentPlacement } from './layout.js';
export { readElf } from './reader.js';
export type { ElfFile, ReadOptions } from './reader.js';
export { readCore, findJitLibraries, symbolizeInLibrary } from './core.js';
export type { CoreFile, CoreJitLibrary, CoreSource, CoreThread, CoreFileMapping } from './core.js';
