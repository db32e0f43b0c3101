export {
  JitLibrary,
  dlcreate,
  dlalloc,
  dlfree,
  dlwrite,
  dlalias,
  dlbind,
  dlbindmany,
  dlunbind,
  dldelete,
  dlsym,
  dladdr,
  dlfunc,
  dlsave,
  dlimport,
  dlreloc,
  dlload,
  dlunload,
  SHF_WRITE,
  SHF_EXECINSTR,
  STT_OBJECT,
  STT_FUNC,
  STT_NOTYPE,
  type DlcreateOptions,
  type BindOptions,
  type AddFunctionOptions,
  type AddDataOptions,
  type BindManyOptions,
  type AddFunctionsOptions,
  type AddDataSymbolsOptions,
  type Bytes,
  type CapacityOptions,
  type LiveSymbol,
  type LibraryStats,
  type AddressInfo,
  type SymbolName,
} from './jit.js';
export type { LoadObjectOptions, LoadedObject, ObjectResolver } from '../loader/object-loader.js';
export type { ImportOptions, ImportSource } from '../loader/imports.js';
export type { AnyFunction } from './calls.js';
export { DlbindError, type DlbindErrorCode } from '../loader/errors.js';
export type { DebugMode } from '../loader/debugger.js';
export { DEFAULT_CAPACITY, type Capacity } from '../loader/zygote.js';
