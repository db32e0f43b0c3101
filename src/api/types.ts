// The public types of the run-time API: the options each call takes and what
// calls report.
import type { ContentSectionName } from '../elf/layout.js';
import type { DebugMode } from '../loader/debugger.js';
import type { Capacity } from '../loader/zygote.js';

/** Capacities as dlcreate's options give them: each a number or a bigint. */
export type CapacityOptions = { [K in keyof Capacity]?: number | bigint } & {
  /** Multiplies every default capacity (0.01 for a small library, 4 for a large one); explicit fields win. */
  scale?: number;
};

/** Bytes as the API takes them: a Uint8Array, any other ArrayBuffer view (sharing its memory), or an array of numbers 0..255. */
export type Bytes = ArrayBufferView | readonly number[];

/**
 * Options of dlcreate: capacities (defaults in DEFAULT_CAPACITY, all multiplied by `scale`), visibility,
 * backing, debugger and profiler support. Unknown keys are EINVAL.
 */
export interface DlcreateOptions extends CapacityOptions {
  /** Load with RTLD_GLOBAL, so that dlsym(RTLD_DEFAULT) and later-loaded objects see the symbols. Default false (RTLD_LOCAL). */
  global?: boolean;
  /**
   * Where the object lives: an anonymous memfd (default, close-on-exec), or a
   * file created exclusively, mode 0600, in `directory` and removed on
   * dldelete and at exit. Without this option, the environment variable
   * DLBIND_BACKING_DIR names such a directory for every library.
   */
  backing?:
    | 'memfd'
    | {
        /** The directory the file is created in (it must exist). */
        directory: string;
      };
  /**
   * Tell debuggers about symbol changes by re-announcing the library in ld.so's
   * link map, batched once per event-loop turn (see `flush`). 'auto' (default)
   * does it only while a debugger listens (a breakpoint sits on ld.so's r_brk,
   * as gdb keeps one while attached); 'always' even when none does; 'off' never.
   */
  debug?: DebugMode;
  /**
   * Write perf's jitdump (jit-<pid>.dump, in `directory`, default the current
   * directory) for every function bound, for `perf record -k mono` followed by
   * `perf inject --jit`. Off by default; main thread only (ETHREAD in a worker).
   * Without this option, the environment variable DLBIND_PERF ('1', or a
   * directory) turns it on for every library created on the main thread.
   */
  perf?:
    | boolean
    | {
        /** The directory jit-<pid>.dump is written to. */
        directory: string;
      };
}

/** Options of bind. Unknown keys are EINVAL. */
export interface BindOptions {
  /**
   * Repoint an existing symbol of that name in one step instead of failing
   * with EEXIST. When the old symbol's block was made by addFunction or
   * addData and no other symbol is left in it, that block is freed as dlfree
   * would free it (text: trap-filled at once, reusable after the quarantine).
   */
  replace?: boolean;
  /**
   * Unwind rules for a function, so that C++ exceptions, backtrace(), gdb and
   * profilers unwind through it: 'frame-pointer' (the standard prologue at its
   * first byte) or its FDE's call-frame instructions (see `cfi()`).
   */
  unwind?: 'frame-pointer' | Uint8Array;
}

/** Options of addFunction. */
export interface AddFunctionOptions extends BindOptions {
  /** Alignment, a power of two up to 65536. Default 16. */
  align?: number;
}

/** Options of addData. */
export interface AddDataOptions extends BindOptions {
  /** Writable data (SHF_WRITE) instead of read-only. Default false. */
  writable?: boolean;
  /** Alignment, a power of two up to 65536. Default 8. */
  align?: number;
}

/** Options of flush. Unknown keys are EINVAL. */
export interface FlushOptions {
  /**
   * First finish the table's work in progress, blocking: a growth of the
   * bucket count under way (each step waits out a 50 ms quarantine), the
   * split of runs that buckets still share since one, and, for a table of
   * 4,096 symbols or more spread over twice as many slots, a repacking in
   * bucket order as a linker lays .dynsym out (lookups then touch as little
   * memory as in a linker's file). Then wait (under 50 ms) until every old
   * copy of a symbol run has waited out its quarantine, and retire them, so
   * that tools reading the live file (nm, readelf, a debugger told now) list
   * each bound symbol once. A call when you are done binding, before other
   * processes or tools read the library. Default false.
   */
  settle?: boolean;
}

/** Options of bindMany. Unknown keys are EINVAL. */
export interface BindManyOptions {
  /** STT_FUNC, STT_OBJECT or STT_NOTYPE for every symbol of the batch. Default by section: STT_FUNC in text, else STT_OBJECT. */
  type?: number;
}

/** Options of addFunctions. Unknown keys are EINVAL. */
export interface AddFunctionsOptions {
  /** The block's alignment, a power of two up to 65536. Default 16. */
  align?: number;
}

/** Options of addDataSymbols. Unknown keys are EINVAL. */
export interface AddDataSymbolsOptions {
  /** Writable data (SHF_WRITE) instead of read-only. Default false. */
  writable?: boolean;
  /** The block's alignment, a power of two up to 65536. Default 8. */
  align?: number;
}

/** A symbol bound in a live library. */
export interface LiveSymbol {
  /** The symbol's name. */
  name: string;
  /** Its run-time address (load base + st_value). */
  address: bigint;
  /** st_size, in bytes. */
  size: number;
  /** The section it points into. */
  section: ContentSectionName;
}

/** What JitLibrary.stats reports: the capacities and how much of each is in use. */
export interface LibraryStats {
  /** The capacities fixed at dlcreate. */
  capacity: Capacity;
  /** Symbols bound now. */
  symbols: number;
  /** Bytes of text in blocks, rounding included. */
  textInUse: number;
  /** Bytes of freed text still in quarantine: trap-filled, given to no alloc until it ends. */
  textQuarantined: number;
  /** Bytes of read-only data in blocks, rounding included. */
  rodataInUse: number;
  /** Bytes of writable data in blocks, rounding included. */
  dataInUse: number;
  /** Bytes left in the string table for new names. */
  stringBytesLeft: number;
}

/** A symbol name as given by the user: a string, or UTF-8 bytes. */
export type SymbolName = string | Uint8Array;
