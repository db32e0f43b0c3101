// The public run-time API: live JIT libraries. Functions in the style of the C
// original (dlcreate, dlalloc, dlbind, ...) and a class for everyday use; both
// are the same code.
import { isMainThread, threadId } from 'node:worker_threads';
import { ELF64_ST_INFO, SHF_EXECINSTR, SHF_WRITE, STB_GLOBAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STV_DEFAULT } from '../elf/constants.js';
import type { ContentSectionName } from '../elf/layout.js';
import { Arena } from '../loader/arena.js';
import { BlockStates, blockBytes, trapFill } from '../loader/block-states.js';
import { DlbindError, locatedError } from '../loader/errors.js';
import { type DlInfo, getLibc } from '../loader/libc.js';
import { type Backing, LiveObject, bindLibc, randomWord } from '../loader/live-object.js';
import { requireSupportedPlatform } from '../loader/platform.js';
import { grownTo } from '../elf/bytes.js';
import { buildFromPlan } from '../elf/builder.js';
import { ElfBuildError } from '../elf/errors.js';
import { writeFileAtomic } from '../elf/file.js';
import { type DebugMode, flushAnnouncements, forget, markChanged } from '../loader/debugger.js';
import { type JitDump, acquireJitDump, backingFromEnvironment, perfFromEnvironment, releaseJitDump } from '../loader/jitdump.js';
import { ImportTable, type ImportOptions } from '../loader/imports.js';
import { syncInstructionCache } from '../loader/icache.js';
import { savePlan } from '../loader/save.js';
import { type LoadObjectOptions, type LoadedObject, deleteObjects, loadObject, unloadObject } from '../loader/object-loader.js';
import { LiveSymbolTable } from '../loader/symtab.js';
import { LiveUnwindTable, checkUnwind } from '../loader/unwind.js';
import type { Capacity } from '../loader/zygote.js';
import { type AnyFunction, forgetLibrary, libraryAt, makeFunction, registerLibrary } from './calls.js';
import {
  ADD_DATA_OPTION_KEYS,
  ADD_DATA_SYMBOLS_OPTION_KEYS,
  ADD_FUNCTION_OPTION_KEYS,
  ADD_FUNCTIONS_OPTION_KEYS,
  BIND_MANY_OPTION_KEYS,
  BIND_OPTION_KEYS,
  atIndex,
  DLCREATE_OPTION_KEYS,
  checkAddress,
  checkBytes,
  checkCapacity,
  checkColumn,
  checkDirectory,
  checkLibraryName,
  checkName,
  checkNames,
  checkOptions,
  IMPORT_OPTION_KEYS,
  LOAD_OBJECT_OPTION_KEYS,
  checkSize,
  cloneOnly,
  describeValue,
} from './checks.js';

export { SHF_WRITE, SHF_EXECINSTR, STT_OBJECT, STT_FUNC, STT_NOTYPE };

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

type ArenaName = Exclude<ContentSectionName, 'bss'>;
const ARENAS: readonly ArenaName[] = ['text', 'rodata', 'data'];

/** A symbol name as given by the user: a string, or UTF-8 bytes. */
export type SymbolName = string | Uint8Array;

let counter = 0;
/**
 * An address's low 64 bits as two 32-bit halves: a store into a BigUint64Array
 * and two loads cost a few nanoseconds where Number(bigint) is a runtime call
 * (some 80 ns). Only addresses in [0, ADDRESS_LIMIT), which the store keeps
 * exactly, may be taken from it (a negative one or one past 2^64 wraps).
 */
const addressWord = new BigUint64Array(1);
const addressHalves = new Uint32Array(addressWord.buffer);
const ADDRESS_LIMIT = 1n << 64n;
/** st_info of a GLOBAL symbol of type 0: add the type. */
const STB_GLOBAL_INFO = ELF64_ST_INFO(STB_GLOBAL, 0);

/** JitLibrary's internal fields with their first values, added non-enumerable by its constructor. */
const HIDDEN_FIELDS: PropertyDescriptorMap = Object.fromEntries(
  Object.entries({
    announceQueued: false,
    object: undefined,
    symtab: undefined,
    imports: undefined,
    unwind: undefined,
    arenas: undefined,
    states: undefined,
    pointerWords: undefined,
    blockHead: undefined,
    headBlock: -1,
    headSlot: 0,
    slotBlock: undefined,
    slotNext: undefined,
    slotPrev: undefined,
    capacity: undefined,
    sectionStart: undefined,
    sectionEnd: undefined,
    base: 0n,
    aliasBase: 0n,
    arch: undefined,
    jitdump: undefined,
    loadedText: undefined,
    lastStart: -1,
    lastEnd: -1,
    lastArena: 'text',
    lastShndx: 0,
    baseNumber: 0,
    atOffset: 0,
    atArena: 'text',
    atBlock: 0,
  }).map(([key, value]) => [key, { value, writable: true, enumerable: false, configurable: true }]),
);

/**
 * A live JIT library: a real shared object, loaded by ld.so, whose code and
 * data are allocated and whose symbols are bound at run time.
 */
// Announceable (the debugger hooks' view of it) is matched structurally, so that its members can stay out of the declarations.
export class JitLibrary {
  /**
   * Always 'dlbind.JitLibrary'. It survives a structured clone (postMessage,
   * workerData), so that a copy that crossed to another thread, which is no
   * library there, is recognised and refused with ETHREAD.
   */
  readonly kind = 'dlbind.JitLibrary';
  /** The threadId of the thread that created the library, the only one that may use it. */
  readonly thread: number = threadId;
  /** The soname, also the memfd's name. */
  readonly name: string;
  /** How this library tells debuggers about new symbols. */
  readonly debugMode: DebugMode;
  // The fields below are declared, not defined: the constructor adds them all at once,
  // non-enumerable (HIDDEN_FIELDS), so that a structured clone carries only the brand
  // above. Adding them so takes V8 one cached map transition each; making 35 defined
  // fields non-enumerable afterwards cost each dlcreate some 80 µs.
  /** @internal */
  declare announceQueued: boolean;
  declare private object: LiveObject | undefined;
  declare private readonly symtab: LiveSymbolTable;
  declare private readonly imports: ImportTable;
  declare private readonly unwind: LiveUnwindTable;
  declare private readonly arenas: Record<ArenaName, Arena>;
  declare private readonly states: BlockStates;
  /** Object offsets of 8-byte words marked by dlreloc as pointers into the library. */
  declare private readonly pointerWords: Set<number>;
  /** Names bound inside each block (keyed by the block's object offset), unbound when it is freed. */
  // An intrusive doubly linked list of slots per block, in typed arrays: a bind
  // links its slot in with a few stores instead of growing a Set per block.
  declare private readonly blockHead: Map<number, number>;
  // The head of the block binds went to last, which the map may not hold yet: consecutive binds into one block skip the map.
  declare private headBlock: number;
  declare private headSlot: number;
  // Sized for the slots used so far, not the capacity: an idle library stays small.
  declare private slotBlock: Float64Array;
  declare private slotNext: Int32Array;
  declare private slotPrev: Int32Array;
  declare private readonly capacity: Capacity;
  declare private readonly sectionStart: Record<ContentSectionName, number>;
  declare private readonly sectionEnd: Record<ContentSectionName, number>;
  declare private readonly base: bigint;
  declare private readonly aliasBase: bigint;
  declare private readonly arch: 'x86_64' | 'aarch64';
  declare private jitdump: JitDump | undefined;
  /** The text as ld.so mapped it (read+execute): only ever read, to check that writes show there. */
  declare private loadedText: Uint8Array | undefined;
  /** The last block a bind or write landed in: consecutive binds into one block skip the search. */
  declare private lastStart: number;
  declare private lastEnd: number;
  declare private lastArena: ArenaName;
  /** The section index of lastArena. */
  declare private lastShndx: number;
  declare private readonly baseNumber: number;
  // Results of the last objectOffsetInBlock, kept in fields so the hot path allocates nothing.
  declare private atOffset: number;
  declare private atArena: ArenaName;
  declare private atBlock: number;

  /** Use `dlcreate()`. */
  constructor(name: string | undefined, options: DlcreateOptions = {}) {
    Object.defineProperties(this, HIDDEN_FIELDS);
    this.pointerWords = new Set<number>();
    this.blockHead = new Map<number, number>();
    this.slotBlock = new Float64Array(64);
    this.slotNext = new Int32Array(64);
    this.slotPrev = new Int32Array(64);
    this.arch = requireSupportedPlatform();
    checkOptions(options, DLCREATE_OPTION_KEYS, 'dlcreate options');
    if (name !== undefined) checkLibraryName(name, 'library name');
    this.name = name ?? `libdlbind-${process.pid}-${++counter}-${(randomWord() & 0xffffff).toString(16).padStart(6, '0')}.so`;
    const page = this.arch === 'aarch64' ? 65536 : 4096;
    this.capacity = checkCapacity(options, page);
    let backing: Backing = { kind: 'memfd' };
    const b = options.backing ?? backingFromEnvironment();
    if (b !== undefined && b !== 'memfd') {
      if (typeof b !== 'object' || b === null) throw new DlbindError('EINVAL', `option backing must be 'memfd' or { directory }, got ${describeValue(b)}`);
      backing = { kind: 'file', directory: checkDirectory(b, 'option backing') };
    }
    const debug = options.debug ?? 'auto';
    if (debug !== 'auto' && debug !== 'always' && debug !== 'off')
      throw new DlbindError('EINVAL', `option debug must be 'auto', 'always' or 'off', got ${describeValue(debug)}`);
    this.debugMode = debug;
    this.object = new LiveObject({ soname: this.name, capacity: this.capacity, global: options.global === true, backing });
    const o = this.object;
    const perf = options.perf ?? perfFromEnvironment();
    if (perf) {
      let dir: string;
      try {
        dir = perf === true ? process.cwd() : checkDirectory(perf, 'option perf');
      } catch (err) {
        o.close();
        throw err;
      }
      try {
        // The dump is one file per process: a worker's own would truncate the main thread's and interleave with it.
        if (!isMainThread) throw new DlbindError('ETHREAD', 'perf jitdump records can be written from the main thread only');
        this.jitdump = acquireJitDump(dir, this.arch);
      } catch (err) {
        o.close();
        throw err instanceof DlbindError ? err : new DlbindError('EINVAL', `cannot write the jitdump in ${dir}: ${(err as Error).message}`);
      }
    }
    this.symtab = new LiveSymbolTable(o.mem, o.layout, this.capacity.maxSymbols, (start, end) => o.markUsed(start, end));
    this.unwind = new LiveUnwindTable(o.mem, o.layout);
    this.arenas = { text: new Arena(this.capacity.text), rodata: new Arena(this.capacity.rodata), data: new Arena(this.capacity.data) };
    const c = o.layout.content;
    this.sectionStart = { text: c.text.addr, rodata: c.rodata.addr, data: c.data.addr, bss: c.bss.addr };
    this.sectionEnd = { text: c.text.addr + c.text.size, rodata: c.rodata.addr + c.rodata.size, data: c.data.addr + c.data.size, bss: c.bss.addr };
    this.base = o.loadBase;
    this.baseNumber = Number(o.loadBase);
    this.aliasBase = o.aliasBase;
    this.imports = new ImportTable({
      arch: this.arch,
      base: this.base,
      mem: o.mem,
      allocData: (size) => this.alloc(size, SHF_WRITE, 8),
      allocCode: (code) => {
        const at = this.alloc(code.length, SHF_EXECINSTR);
        this.write(at, code);
        return at;
      },
      ownAddress: (name) => {
        const sym = this.symtab.get(name);
        return sym === undefined ? undefined : this.base + BigInt(sym.value);
      },
    });
    this.states = new BlockStates(this.name, this.arenas.text);
    registerLibrary(this);
    cloneOnly(this, ['kind', 'thread', 'name', 'debugMode']);
  }

  private live(): LiveObject {
    const o = this.object;
    if (o === undefined) throw new DlbindError('EDELETED', `library ${this.name} was deleted`);
    return o;
  }

  /** The raw pointer dlopen() returned, for your own FFI calls into libc. */
  get handle(): bigint {
    return this.live().handle;
  }

  /** The path ld.so loaded (for a memfd, /proc/<pid>/fd/<n>). */
  get path(): string {
    return this.live().path;
  }

  /** The load base (link_map l_addr). */
  get loadBase(): bigint {
    this.live();
    return this.base;
  }

  /** Whether the library was deleted (dldelete or delete). */
  get deleted(): boolean {
    return this.object === undefined;
  }

  /** Allocates a block: SHF_EXECINSTR for code, SHF_WRITE for data, 0 for read-only data. */
  alloc(size: number | bigint, flags: number, align?: number): bigint {
    this.live();
    const arena = this.arenaFor(flags);
    const n = checkSize(size, 'size');
    const a = align ?? (arena === 'text' ? 16 : 8);
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0 || a > 65536) {
      throw new DlbindError('EALIGN', `alignment must be a power of two up to 65536, got ${String(a)}`);
    }
    if (arena === 'text') this.states.release();
    let offset = this.arenas[arena].alloc(n, a);
    if (offset < 0 && arena === 'text' && this.states.release(true) > 0) offset = this.arenas.text.alloc(n, a);
    if (offset < 0) {
      throw new DlbindError(
        'ENOSPACE',
        `no free block of ${n} bytes in .${arena}: ${this.arenas[arena].bytesInUse} of ${arena} capacity ${this.capacity[arena]} bytes in use (raise ${arena} or scale at dlcreate)`,
      );
    }
    const objectOffset = this.sectionStart[arena] + offset;
    this.object!.markUsed(objectOffset, objectOffset + n);
    this.states.allocated(objectOffset);
    return this.base + BigInt(objectOffset);
  }

  /**
   * Gives a block back. Symbols bound inside it are unbound first, functions
   * made for it by dlfunc or lib.func throw EFREED from then on, and its bytes
   * are overwritten: text with a trap (int3 on x86_64, brk on aarch64), data
   * with zeros. A text block is reused only after a quarantine of 50 ms (or
   * sooner when an alloc finds no other room), so that a thread still inside
   * the old code traps instead of running the block's next occupant.
   */
  free(addr: bigint): void {
    this.live();
    const { arena, offset } = this.locate(checkAddress(addr));
    const objectOffset = this.sectionStart[arena] + offset;
    if (this.arenas[arena].sizeAt(offset) === undefined) {
      if (this.states.startsAt(objectOffset)) throw new DlbindError('EFREED', `block at 0x${addr.toString(16)} was already freed`);
      throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not the start of a block this library gave out`);
    }
    const head = this.headOf(objectOffset);
    if (head !== 0) {
      const names: string[] = [];
      for (let slot = head; slot !== 0; slot = this.slotNext[slot]!) names.push(this.symtab.nameAt(slot)!);
      for (const name of names) {
        this.symtab.unbind(name);
        this.imports.unbound(name);
      }
      this.setHead(objectOffset, 0);
      markChanged(this);
    }
    const size = this.arenas[arena].retire(offset)!;
    if (arena === 'text') this.unwind.removeRange(objectOffset, objectOffset + size);
    for (const w of this.pointerWords) if (w >= objectOffset && w < objectOffset + size) this.pointerWords.delete(w);
    this.lastStart = this.lastEnd = -1;
    this.overwrite(arena, objectOffset, blockBytes(size));
    this.states.freedBlock(arena, this.arenas[arena], offset, objectOffset, size);
    if (arena === 'text') this.states.release();
  }

  /** Copies bytes into a live block through the writable alias; refuses bytes outside the block. */
  write(addr: bigint, bytes: Bytes): void {
    this.live();
    const data = checkBytes(bytes);
    this.objectOffsetInBlock(checkAddress(addr), data.length);
    this.writeAt(this.atArena, this.atOffset, data);
  }

  private writeAt(arena: ArenaName, at: number, data: Uint8Array): void {
    const o = this.object!;
    o.mem.set(data, at);
    if (arena === 'text') {
      if (this.arch === 'aarch64') syncInstructionCache(o, at, data.length);
      if (!this.textShows(at, data)) {
        o.refreshText(at, data.length);
        if (!this.textShows(at, data))
          throw new DlbindError('ELIBC', `code written at 0x${(this.base + BigInt(at)).toString(16)} does not show at its executable address`);
      }
    }
  }

  /** Overwrites a freed block: text with a trap, data with zeros. */
  private overwrite(arena: ArenaName, at: number, length: number): void {
    this.writeAt(arena, at, arena === 'text' ? trapFill(this.arch, length) : new Uint8Array(length));
  }

  /** The writable alias of an address in a live block, for callers that write by themselves. */
  alias(addr: bigint): bigint {
    this.live();
    this.objectOffsetInBlock(checkAddress(addr), 1);
    return this.aliasBase + BigInt(this.atOffset);
  }

  /**
   * Binds `name` to `addr` (inside a block this library gave out, with `size`
   * bytes after it in the same block). From the moment this returns, libc's
   * dlsym finds it and dladdr names it.
   */
  bind(name: SymbolName, addr: bigint, size: number | bigint, type?: number, options?: BindOptions): void {
    // The common case in few steps: a new string name, a number size and an address in the block binds went to last.
    if (options === undefined && typeof name === 'string' && typeof addr === 'bigint' && typeof size === 'number' && this.object !== undefined) {
      addressWord[0] = addr;
      const objectOffset = addressHalves[0]! + addressHalves[1]! * 4294967296 - this.baseNumber;
      if (objectOffset >= this.lastStart && objectOffset + size <= this.lastEnd && size > 0 && Number.isInteger(size) && addr < ADDRESS_LIMIT && addr >= 0n) {
        const stt = type ?? (this.lastArena === 'text' ? STT_FUNC : STT_OBJECT);
        if (stt === STT_FUNC || stt === STT_OBJECT || stt === STT_NOTYPE) {
          const slot = this.symtab.bindNew(name, objectOffset, size, STB_GLOBAL_INFO + stt, this.lastShndx);
          if (slot !== 0) {
            this.recordBind(slot, name, objectOffset, size, stt, this.lastStart);
            return;
          }
        }
      }
    }
    this.bindChecked(name, addr, size, type, options);
  }

  /**
   * Binds many symbols at once, given as columns: `names[i]` to
   * `addresses[i]`, `sizes[i]` bytes (each as `bind` binds one, in blocks this
   * library gave out). Every entry is checked before any is stored, and the
   * batch is all or nothing: when an entry fails (a bad value, a name bound
   * already or twice in the batch, a full table), nothing of it stays bound
   * and the DlbindError names the entry (`sizes[3]: ...`). No replace, no unwind rules.
   */
  bindMany(
    names: readonly SymbolName[],
    addresses: readonly bigint[] | BigUint64Array,
    sizes: readonly (number | bigint)[] | ArrayLike<number>,
    options?: BindManyOptions,
  ): void {
    this.live();
    checkOptions(options, BIND_MANY_OPTION_KEYS, 'bindMany options');
    const type = options?.type;
    if (type !== undefined && type !== STT_FUNC && type !== STT_OBJECT && type !== STT_NOTYPE)
      throw new DlbindError('EINVAL', `bindMany: type must be STT_FUNC, STT_OBJECT or STT_NOTYPE, got ${describeValue(type)}`);
    const n = checkNames(names, 'bindMany');
    const count = n.length;
    checkColumn(addresses, 'bindMany: addresses', count, true);
    checkColumn(sizes, 'bindMany: sizes', count, true);
    const values = new Float64Array(count);
    const bytes = new Float64Array(count);
    const infos = new Uint8Array(count);
    const shndx = new Uint16Array(count);
    const blocks = new Float64Array(count);
    const sectionIndex = this.object!.layout.sectionIndex;
    let column = 'sizes';
    let i = 0;
    try {
      for (; i < count; i++) {
        column = 'sizes';
        const size = sizes[i];
        const length = typeof size === 'number' && Number.isSafeInteger(size) && size > 0 ? size : checkSize(size, 'size');
        column = 'addresses';
        const addr = addresses[i];
        this.objectOffsetInBlock(typeof addr === 'bigint' ? addr : checkAddress(addr), length);
        bytes[i] = length;
        values[i] = this.atOffset;
        blocks[i] = this.atBlock;
        const arena = this.atArena;
        infos[i] = STB_GLOBAL_INFO + (type ?? (arena === 'text' ? STT_FUNC : STT_OBJECT));
        shndx[i] = sectionIndex[arena];
      }
    } catch (err) {
      throw locatedError(err, `${column}[${i}]`);
    }
    this.bindColumns(n, values, bytes, infos, shndx, blocks);
  }

  /**
   * Allocates one text block for `code`, writes it once and binds a function
   * in it per name: `names[i]` at `offsets[i]` into the code, `sizes[i]` bytes
   * (without sizes, each runs to the next offset, which must then increase, and
   * the last to the end of the code). All or nothing, as bindMany. Returns the
   * block's address; `free` of it unbinds them all.
   */
  addFunctions(names: readonly SymbolName[], code: Bytes, offsets: ArrayLike<number>, sizes?: ArrayLike<number>, options?: AddFunctionsOptions): bigint {
    checkOptions(options, ADD_FUNCTIONS_OPTION_KEYS, 'addFunctions options');
    return this.placeMany('addFunctions', names, checkBytes(code, 'code'), offsets, sizes, SHF_EXECINSTR, STT_FUNC, options?.align);
  }

  /** addFunctions for data objects: one block (read-only unless `writable`) holding `bytes`, a symbol per name. Returns the block's address. */
  addDataSymbols(names: readonly SymbolName[], bytes: Bytes, offsets: ArrayLike<number>, sizes?: ArrayLike<number>, options?: AddDataSymbolsOptions): bigint {
    checkOptions(options, ADD_DATA_SYMBOLS_OPTION_KEYS, 'addDataSymbols options');
    return this.placeMany('addDataSymbols', names, checkBytes(bytes), offsets, sizes, options?.writable === true ? SHF_WRITE : 0, STT_OBJECT, options?.align);
  }

  /** alloc + write + a batch of binds into the block, giving the block back if anything fails. */
  private placeMany(
    what: string,
    names: readonly SymbolName[],
    data: Uint8Array,
    offsets: ArrayLike<number>,
    sizes: ArrayLike<number> | undefined,
    flags: number,
    type: number,
    align: number | undefined,
  ): bigint {
    this.live();
    const n = checkNames(names, what);
    const count = n.length;
    if (count === 0) throw new DlbindError('EINVAL', `${what} needs at least one name`);
    checkColumn(offsets, `${what}: offsets`, count, true);
    if (sizes !== undefined) checkColumn(sizes, `${what}: sizes`, count, true);
    const values = new Float64Array(count);
    const bytes = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const at = offsets[i];
      if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at >= data.length)
        throw new DlbindError('EINVAL', `offsets[${i}] must be an integer offset into the ${data.length} bytes, got ${describeValue(at)}`);
      const next = i + 1 < count ? offsets[i + 1]! : data.length;
      const size = sizes !== undefined ? atIndex(`sizes[${i}]`, () => checkSize(sizes[i], 'size')) : next - at;
      if (!(size > 0))
        throw new DlbindError('EINVAL', `offsets[${i + 1}] is ${String(next)}, not after offsets[${i}] ${at} (without sizes, offsets must increase)`);
      if (at + size > data.length) throw new DlbindError('ERANGE', `sizes[${i}]: ${size} bytes at offset ${at} run past the end of the ${data.length} bytes`);
      values[i] = at;
      bytes[i] = size;
    }
    const addr = this.alloc(data.length, flags, align);
    try {
      this.write(addr, data);
      const block = Number(addr - this.base);
      this.states.own(block);
      for (let i = 0; i < count; i++) values[i]! += block;
      const info = ELF64_ST_INFO(STB_GLOBAL, type);
      const shndx = this.object!.layout.sectionIndex[this.arenaFor(flags)];
      this.bindColumns(n, values, bytes, new Uint8Array(count).fill(info), new Uint16Array(count).fill(shndx), new Float64Array(count).fill(block));
    } catch (err) {
      this.free(addr);
      throw err;
    }
    return addr;
  }

  /** Stores a checked batch (all or nothing, in the table) and does each symbol's bookkeeping, as recordBind does for one. */
  private bindColumns(names: string[], values: Float64Array, sizes: Float64Array, infos: Uint8Array, shndx: Uint16Array, blocks: Float64Array): void {
    const slots = this.symtab.bindBatch(names, values, sizes, infos, shndx);
    const count = slots.length;
    if (count === 0) return;
    let most = 0;
    for (let i = 0; i < count; i++) if (slots[i]! > most) most = slots[i]!;
    if (most >= this.slotNext.length) this.growSlotLists(most);
    const slotBlock = this.slotBlock;
    const slotNext = this.slotNext;
    const slotPrev = this.slotPrev;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      const block = blocks[i]!;
      const head = block === this.headBlock ? this.headSlot : this.headOf(block);
      slotBlock[slot] = block;
      slotPrev[slot] = 0;
      slotNext[slot] = head;
      if (head !== 0) slotPrev[head] = slot;
      if (block === this.headBlock) this.headSlot = slot;
      else this.setHead(block, slot);
    }
    if (this.imports.followsOwn) for (let i = 0; i < count; i++) this.imports.bound(names[i]!, this.base + BigInt(values[i]!));
    markChanged(this);
    if (this.jitdump !== undefined) {
      const mem = this.object!.mem;
      for (let i = 0; i < count; i++) {
        if ((infos[i]! & 0xf) === STT_FUNC) this.jitdump.codeLoad(names[i]!, this.base + BigInt(values[i]!), mem.slice(values[i]!, values[i]! + sizes[i]!));
      }
    }
  }

  /** Bookkeeping after a new symbol went into the table: its block's list, import slots, debuggers, perf. */
  private recordBind(slot: number, name: string, objectOffset: number, size: number, stt: number, block: number): void {
    if (slot >= this.slotNext.length) this.growSlotLists(slot);
    const head = block === this.headBlock ? this.headSlot : this.headOf(block);
    this.slotBlock[slot] = block;
    this.slotPrev[slot] = 0;
    this.slotNext[slot] = head;
    if (head !== 0) this.slotPrev[head] = slot;
    if (block === this.headBlock) this.headSlot = slot;
    else this.setHead(block, slot);
    if (this.imports.followsOwn) this.imports.bound(name, this.base + BigInt(objectOffset));
    markChanged(this);
    if (this.jitdump !== undefined && stt === STT_FUNC) {
      this.jitdump.codeLoad(name, this.base + BigInt(objectOffset), this.object!.mem.slice(objectOffset, objectOffset + size));
    }
  }

  /** bind with every check, for every case. */
  private bindChecked(name: SymbolName, addr: bigint, size: number | bigint, type?: number, options?: BindOptions): void {
    this.live();
    if (options !== undefined) checkOptions(options, BIND_OPTION_KEYS, 'bind options');
    const n = checkName(name);
    const bytes = checkSize(size, 'size');
    this.objectOffsetInBlock(typeof addr === 'bigint' ? addr : checkAddress(addr), bytes);
    const objectOffset = this.atOffset;
    const arena = this.atArena;
    const block = this.atBlock;
    const stt = type ?? (arena === 'text' ? STT_FUNC : STT_OBJECT);
    if (stt !== STT_FUNC && stt !== STT_OBJECT && stt !== STT_NOTYPE)
      throw new DlbindError('EINVAL', `symbol type must be STT_FUNC, STT_OBJECT or STT_NOTYPE, got ${String(stt)}`);
    const replace = options !== undefined && options.replace === true;
    const previous = replace ? this.symtab.slotOfName(n) : 0;
    let slot: number;
    if (options?.unwind === undefined) {
      slot = this.symtab.bind(n, objectOffset, bytes, ELF64_ST_INFO(STB_GLOBAL, stt), STV_DEFAULT, this.object!.layout.sectionIndex[arena], replace);
    } else {
      if (arena !== 'text') throw new DlbindError('EINVAL', 'unwind rules are for code (SHF_EXECINSTR blocks)');
      // The rules go in before the symbol can be found, so no caller runs the function without them.
      const had = this.unwind.entryAt(objectOffset);
      this.unwind.set(objectOffset, bytes, checkUnwind(this.arch, options.unwind));
      try {
        slot = this.symtab.bind(n, objectOffset, bytes, ELF64_ST_INFO(STB_GLOBAL, stt), STV_DEFAULT, this.object!.layout.sectionIndex[arena], replace);
      } catch (err) {
        this.unwind.undo(objectOffset, had);
        throw err;
      }
    }
    const replacedBlock = previous !== 0 ? this.slotBlock[previous]! : -1;
    if (previous !== 0) this.unlinkFromBlock(previous);
    this.recordBind(slot, n, objectOffset, bytes, stt, block);
    // What addFunction/addData made for the old symbol goes with it, once nothing else is bound there.
    if (replacedBlock >= 0 && replacedBlock !== block && this.states.owns(replacedBlock) && this.headOf(replacedBlock) === 0)
      this.free(this.base + BigInt(replacedBlock));
  }

  private growSlotLists(slot: number): void {
    const length = Math.max(slot + 1, this.slotNext.length * 2);
    this.slotBlock = grownTo(this.slotBlock, length);
    this.slotNext = grownTo(this.slotNext, length);
    this.slotPrev = grownTo(this.slotPrev, length);
  }

  private unlinkFromBlock(slot: number): void {
    const prev = this.slotPrev[slot]!;
    const next = this.slotNext[slot]!;
    if (prev !== 0) this.slotNext[prev] = next;
    else this.setHead(this.slotBlock[slot]!, next);
    if (next !== 0) this.slotPrev[next] = prev;
  }

  private headOf(block: number): number {
    return block === this.headBlock ? this.headSlot : (this.blockHead.get(block) ?? 0);
  }

  private setHead(block: number, slot: number): void {
    if (block !== this.headBlock) {
      if (this.headBlock >= 0) {
        if (this.headSlot !== 0) this.blockHead.set(this.headBlock, this.headSlot);
        else this.blockHead.delete(this.headBlock);
      }
      this.headBlock = block;
    }
    this.headSlot = slot;
  }

  /** Removes a symbol: dlsym stops finding it and dladdr stops naming it. Returns false if it was not bound. */
  unbind(name: SymbolName): boolean {
    this.live();
    const n = checkName(name);
    const removed = this.symtab.unbind(n);
    if (removed === undefined) return false;
    this.unlinkFromBlock(removed.slot);
    this.imports.unbound(n);
    markChanged(this);
    return true;
  }

  /**
   * Announces symbol changes to an attached debugger now, instead of at the
   * end of this event-loop turn (for synchronous callers about to stop or
   * call into new code). Returns whether an announcement was made.
   */
  flush(): boolean {
    this.live();
    return flushAnnouncements(this) > 0;
  }

  /** @internal */
  announceLinkMap(): bigint | undefined {
    return this.object?.linkMap;
  }

  /** @internal */
  announceFd(): number | undefined {
    return this.object?.fd;
  }

  /**
   * Marks the 8-byte word at `addr` (in a writable data block) as a pointer
   * into this library: `save` writes a RELATIVE relocation for it, so that the
   * saved object's copy points at the same place wherever it is loaded.
   */
  reloc(addr: bigint): void {
    this.live();
    this.objectOffsetInBlock(checkAddress(addr), 8);
    if (this.atArena !== 'data') throw new DlbindError('EINVAL', 'dlreloc marks words in writable data (SHF_WRITE blocks) only');
    if (this.atOffset % 8 !== 0) throw new DlbindError('EALIGN', `a pointer word must be 8-byte aligned, 0x${addr.toString(16)} is not`);
    this.pointerWords.add(this.atOffset);
  }

  /**
   * Writes a standalone .so holding every bound symbol with its current code
   * and data, at the same addresses relative to the load base, atomically
   * (temporary file, fsync, rename). Its soname is the file's name. Returns
   * the number of bytes written.
   */
  save(path: string): number {
    const o = this.live();
    if (typeof path !== 'string' || path.length === 0) throw new DlbindError('EINVAL', `save needs a file path, got ${describeValue(path)}`);
    const soname = checkLibraryName(path.split('/').pop()!, "the saved file's name (its soname)");
    const symbols = [...this.symtab.entries()].map((s) => ({ ...s, type: this.symtab.typeOf(s.slot), unwind: this.unwind.rulesAt(s.value) }));
    const pointerWords = new Set([...this.pointerWords, ...this.imports.ownSlotOffsets()]);
    const imports = this.imports.savedImports();
    let bytes: Uint8Array;
    try {
      try {
        bytes = buildFromPlan(savePlan(o, soname, this.arenas, symbols, pointerWords, imports)).bytes;
      } catch (err) {
        // Near capacity, two hash tables may not fit below the text's fixed address: GNU alone is smaller.
        if (!(err instanceof ElfBuildError)) throw err;
        bytes = buildFromPlan({ ...savePlan(o, soname, this.arenas, symbols, pointerWords, imports), hashStyle: 'gnu' }).bytes;
      }
    } catch (err) {
      if (err instanceof ElfBuildError) throw new DlbindError('EINVAL', `cannot save ${this.name}: ${err.message}`);
      throw err;
    }
    try {
      writeFileAtomic(path, bytes);
    } catch (err) {
      throw new DlbindError('EINVAL', `cannot write ${path}: ${(err as Error).message}`);
    }
    return bytes.length;
  }

  /**
   * A GOT slot in this library's data holding `name`'s address, for generated code to
   * call through (`call [rip + disp]`); returns the slot's address. Another object's symbol
   * is resolved now through dlsym, or dlvsym with `version`, in the global scope or in
   * `from` (a dlopen handle or a library to dlopen). One of this library's own symbols
   * (`from` this library, or a name it has bound) gets a slot that follows it: replace
   * stores the new address, unbind or free a trap (SIGILL on x86_64, SIGTRAP on aarch64).
   * dlsave writes imports as undefined symbols with GLOB_DAT relocations and DT_NEEDED.
   */
  import(name: SymbolName, options: Omit<ImportOptions, 'from'> & { from?: ImportOptions['from'] | JitLibrary } = {}): bigint {
    this.live();
    const n = checkName(name);
    checkOptions(options, IMPORT_OPTION_KEYS, 'import options');
    const own = options.from === this || (options.from === undefined && options.version === undefined && this.symtab.get(n) !== undefined);
    const from = options.from instanceof JitLibrary ? options.from.handle : options.from;
    return this.imports.import(n, { version: options.version, from: own ? undefined : from }, own);
  }

  /** libc dlsym() on this library's handle. */
  sym(name: SymbolName): bigint | null {
    return dlsym(this, name);
  }

  /** The symbol this library has bound under `name` (its own books, not libc). */
  lookup(name: SymbolName): LiveSymbol | undefined {
    this.live();
    const s = this.symtab.get(checkName(name));
    return s === undefined ? undefined : this.toLiveSymbol(s.name, s.value, s.size);
  }

  /** Every bound symbol. */
  symbols(): LiveSymbol[] {
    this.live();
    return [...this.symtab.entries()].map((s) => this.toLiveSymbol(s.name, s.value, s.size));
  }

  /** The capacities and how much of each is in use. */
  stats(): LibraryStats {
    this.live();
    this.states.release();
    return {
      capacity: { ...this.capacity },
      symbols: this.symtab.count,
      textInUse: this.arenas.text.bytesInUse,
      textQuarantined: this.arenas.text.bytesRetired,
      rodataInUse: this.arenas.rodata.bytesInUse,
      dataInUse: this.arenas.data.bytesInUse,
      stringBytesLeft: this.symtab.stringBytesLeft,
    };
  }

  /** Allocates code, writes it and binds it as a function. Returns its address. */
  addFunction(name: SymbolName, code: Bytes, options: AddFunctionOptions = {}): bigint {
    checkOptions(options, ADD_FUNCTION_OPTION_KEYS, 'addFunction options');
    return this.place(name, checkBytes(code, 'code'), SHF_EXECINSTR, STT_FUNC, options);
  }

  /** Allocates data (read-only unless `writable`), writes it and binds it as an object. Returns its address. */
  addData(name: SymbolName, bytes: Bytes, options: AddDataOptions = {}): bigint {
    checkOptions(options, ADD_DATA_OPTION_KEYS, 'addData options');
    return this.place(name, checkBytes(bytes), options.writable === true ? SHF_WRITE : 0, STT_OBJECT, options);
  }

  /** alloc + write + bind, giving the block back if the write or the bind fails. */
  private place(name: SymbolName, bytes: Uint8Array, flags: number, type: number, options: AddFunctionOptions): bigint {
    const addr = this.alloc(bytes.length, flags, options.align);
    try {
      this.write(addr, bytes);
      this.states.own(Number(addr - this.base));
      const { align: _, ...bindOptions } = options as AddDataOptions;
      delete bindOptions.writable;
      this.bind(name, addr, bytes.length, type, bindOptions);
    } catch (err) {
      this.free(addr);
      throw err;
    }
    return addr;
  }

  /**
   * The code at `addr` (in a live block of this library, or anywhere else) as a JS function,
   * typed by the caller: `lib.func<(a: number, b: number) => number>(addr,
   * 'int add(int a, int b)')`. The JS type of each C type is in dlfunc's
   * documentation. Each call throws EFREED once the block was freed and
   * EDELETED once the library was deleted, instead of running stale code.
   * @typeParam F - the JS type of the function, written to match the signature.
   */
  func<F extends AnyFunction = (...args: unknown[]) => unknown>(addr: bigint, signature: string): F {
    this.live();
    // Code elsewhere (libc, another library) is called unguarded, as dlfunc calls it.
    if (typeof addr !== 'bigint' || !this.holds(addr)) return makeFunction<F>(addr, signature);
    this.objectOffsetInBlock(checkAddress(addr), 1);
    return makeFunction<F>(addr, signature, this.states.guardFor(this.atBlock));
  }

  /** Whether `addr` lies in this library's mapping. @internal */
  holds(addr: bigint): boolean {
    return this.object !== undefined && addr >= this.base && addr < this.base + BigInt(this.object.fileSize);
  }

  /**
   * Unbinds everything, dlcloses, unmaps and closes. Later use throws
   * EDELETED. Returns false when ld.so kept the (now empty) object loaded:
   * glibc pins an object that a dlsym(RTLD_DEFAULT) found.
   */
  delete(): boolean {
    const o = this.live();
    deleteObjects(this);
    this.symtab.clear();
    this.imports.close();
    this.unwind.close();
    this.states.deleted();
    forgetLibrary(this);
    forget(this);
    if (this.jitdump !== undefined) {
      this.jitdump = undefined;
      releaseJitDump();
    }
    this.object = undefined;
    return o.close();
  }

  /**
   * The underlying object, for the loader's other parts (debugger hooks, save).
   * @internal
   */
  get liveObject(): LiveObject {
    return this.live();
  }

  /** Links a compiled object (.o, ET_REL, x86_64 or aarch64) into this library; see the README. */
  loadObject(bytes: Uint8Array, options?: LoadObjectOptions): LoadedObject {
    checkOptions(options, LOAD_OBJECT_OPTION_KEYS, 'loadObject options');
    return loadObject(this, bytes, options);
  }

  /** Unbinds a loaded object's symbols and frees its sections. */
  unloadObject(handle: LoadedObject): void {
    unloadObject(this, handle);
  }

  /** @internal */
  get symbolTable(): LiveSymbolTable {
    this.live();
    return this.symtab;
  }

  /** @internal */
  get unwindTable(): LiveUnwindTable {
    this.live();
    return this.unwind;
  }

  /** Whether the executable mapping shows `data` at `objectOffset` (it does unless the page was copied on write). */
  private textShows(objectOffset: number, data: Uint8Array): boolean {
    const from = objectOffset - this.sectionStart.text;
    if (this.loadedText === undefined || this.loadedText.length < from + data.length) {
      // A view of the text written so far, grown by doubling: V8 counts a view's whole length as external memory.
      let n = Math.max(1 << 16, this.loadedText?.length ?? 0);
      while (n < from + data.length) n *= 2;
      n = Math.min(n, this.sectionEnd.text - this.sectionStart.text);
      this.loadedText = new Uint8Array(getLibc().view(this.base + BigInt(this.sectionStart.text), n));
    }
    const loaded = this.loadedText;
    for (let i = 0; i < data.length; i++) if (loaded[from + i] !== data[i]) return false;
    return true;
  }

  private toLiveSymbol(name: string, value: number, size: number): LiveSymbol {
    return { name, address: this.base + BigInt(value), size, section: this.sectionOf(value) ?? 'data' };
  }

  private sectionOf(objectOffset: number): ArenaName | undefined {
    for (const a of ARENAS) if (objectOffset >= this.sectionStart[a] && objectOffset < this.sectionEnd[a]) return a;
    return undefined;
  }

  private arenaFor(flags: number): ArenaName {
    if (typeof flags !== 'number' || !Number.isInteger(flags))
      throw new DlbindError('EINVAL', `flags must be SHF_EXECINSTR, SHF_WRITE or 0, got ${String(flags)}`);
    if ((flags & SHF_WRITE) !== 0 && (flags & SHF_EXECINSTR) !== 0)
      throw new DlbindError('EWX', 'memory is never both writable and executable (SHF_WRITE | SHF_EXECINSTR)');
    if ((flags & ~(SHF_WRITE | SHF_EXECINSTR)) !== 0) throw new DlbindError('EINVAL', `unknown flags 0x${flags.toString(16)}`);
    return flags & SHF_EXECINSTR ? 'text' : flags & SHF_WRITE ? 'data' : 'rodata';
  }

  /** Which arena an address falls in, and its offset there; EFOREIGN when it is not this library's. */
  private locate(addr: bigint): { arena: ArenaName; offset: number } {
    const rel = addr - this.base;
    if (rel >= 0n && rel < BigInt(this.object!.fileSize)) {
      const objectOffset = Number(rel);
      const arena = this.sectionOf(objectOffset);
      if (arena !== undefined) return { arena, offset: objectOffset - this.sectionStart[arena] };
    }
    throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not in library ${this.name}'s text, rodata or data`);
  }

  /**
   * Checks that [addr, addr+length) lies in one live block; leaves its object
   * offset, arena and block start in atOffset, atArena and atBlock. Addresses
   * are below 2^47, so a number holds them exactly and the common case (the
   * same block as last time) needs no bigint arithmetic.
   */
  private objectOffsetInBlock(addr: bigint, length: number): void {
    addressWord[0] = addr;
    const objectOffset = addressHalves[0]! + addressHalves[1]! * 4294967296 - this.baseNumber;
    if (objectOffset >= this.lastStart && objectOffset + length <= this.lastEnd && addr < ADDRESS_LIMIT && addr >= 0n) {
      this.atOffset = objectOffset;
      this.atArena = this.lastArena;
      this.atBlock = this.lastStart;
      return;
    }
    const { arena, offset } = this.locate(addr);
    const block = this.arenas[arena].blockContaining(offset);
    if (block === undefined) {
      const at = this.sectionStart[arena] + offset;
      if (this.states.holds(at)) throw new DlbindError('EFREED', `0x${addr.toString(16)} is in a block that was freed`);
      throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not inside a block this library gave out`);
    }
    if (offset + length > block.offset + block.size) {
      throw new DlbindError('ERANGE', `${length} bytes at 0x${addr.toString(16)} run past the end of their ${block.size}-byte block`);
    }
    const start = this.sectionStart[arena] + block.offset;
    this.lastStart = start;
    this.lastEnd = start + block.size;
    this.lastArena = arena;
    this.lastShndx = this.object!.layout.sectionIndex[arena];
    this.atOffset = this.sectionStart[arena] + offset;
    this.atArena = arena;
    this.atBlock = start;
  }
}

function lib(value: unknown): JitLibrary {
  if (value instanceof JitLibrary) return value;
  const v = value as Partial<JitLibrary> | null;
  if (v !== null && typeof v === 'object' && v.kind === 'dlbind.JitLibrary') {
    // Another copy of dlbind in this thread (the ESM and the CommonJS entry) made it: it is a library all the same.
    if (typeof v.alloc === 'function' && v.thread === threadId) return v as JitLibrary;
    throw new DlbindError(
      'ETHREAD',
      `library ${String(v.name)} arrived here as a copy from thread ${String(v.thread)}: a library belongs to the thread that created it (create one in this thread, or pass addresses and call them here)`,
    );
  }
  throw new DlbindError('EINVAL', `expected a library returned by dlcreate(), got ${describeValue(value)}`);
}

/**
 * Creates a live library (a sparse zygote object, loaded by dlopen).
 * @param name The library's soname and memfd (or backing file) name: 1-200 characters of
 *   [A-Za-z0-9._+-], not '.' or '..' (EINVAL otherwise). Default: a unique
 *   `libdlbind-<pid>-<n>-<random>.so`.
 * @param options Capacities, visibility, backing, debugger and profiler support; unknown keys are EINVAL.
 */
export function dlcreate(name?: string, options?: DlcreateOptions): JitLibrary {
  return new JitLibrary(name, options);
}

/** Allocates a block: flags SHF_EXECINSTR (code), SHF_WRITE (data) or 0 (read-only data). Returns its address. */
export function dlalloc(library: JitLibrary, size: number | bigint, flags: number, align?: number): bigint {
  return lib(library).alloc(size, flags, align);
}

/** Gives a block back to the allocator (symbols bound inside it are unbound). */
export function dlfree(library: JitLibrary, addr: bigint): void {
  lib(library).free(addr);
}

/** Copies bytes into a live block through the writable mapping. */
export function dlwrite(library: JitLibrary, addr: bigint, bytes: Bytes): void {
  lib(library).write(addr, bytes);
}

/** The writable alias of an address inside a live block. */
export function dlalias(library: JitLibrary, addr: bigint): bigint {
  return lib(library).alias(addr);
}

/** Binds a symbol (STT_FUNC or STT_OBJECT; default by section). Visible to libc dlsym/dladdr on return. */
export function dlbind(library: JitLibrary, name: SymbolName, addr: bigint, size: number | bigint, type?: number, options?: BindOptions): void {
  lib(library).bind(name, addr, size, type, options);
}

/** Binds many symbols at once (columns of names, addresses and sizes), all or nothing: JitLibrary.bindMany. */
export function dlbindmany(
  library: JitLibrary,
  names: readonly SymbolName[],
  addresses: readonly bigint[] | BigUint64Array,
  sizes: readonly (number | bigint)[] | ArrayLike<number>,
  options?: BindManyOptions,
): void {
  lib(library).bindMany(names, addresses, sizes, options);
}

/** Unbinds a symbol; returns false if it was not bound. */
export function dlunbind(library: JitLibrary, name: SymbolName): boolean {
  return lib(library).unbind(name);
}

/** Marks an 8-byte data word as a pointer into the library, for dlsave's relocations. */
export function dlreloc(library: JitLibrary, addr: bigint): void {
  lib(library).reloc(addr);
}

/** A GOT slot holding `name`'s address (see JitLibrary.import). Returns the slot's address. */
export function dlimport(library: JitLibrary, name: SymbolName, options?: Parameters<JitLibrary['import']>[1]): bigint {
  return lib(library).import(name, options);
}

/** Saves a live library as a standalone shared object at `path` (atomically). Returns its size. */
export function dlsave(library: JitLibrary, path: string): number {
  return lib(library).save(path);
}

/** Links a compiled object (.o) into a live library: lib.loadObject. */
export function dlload(library: JitLibrary, bytes: Uint8Array, options?: LoadObjectOptions): LoadedObject {
  return lib(library).loadObject(bytes, options);
}

/** Unloads an object dlload loaded: lib.unloadObject. */
export function dlunload(library: JitLibrary, handle: LoadedObject): void {
  lib(library).unloadObject(handle);
}

/** Unbinds everything, dlcloses, unmaps and closes the library. Returns whether ld.so unloaded it. */
export function dldelete(library: JitLibrary): boolean {
  return lib(library).delete();
}

/**
 * libc's own dlsym(). Pass a library (or a raw dlopen handle) or null for
 * RTLD_DEFAULT. Returns the address, or null when nothing is found.
 */
export function dlsym(library: JitLibrary | bigint | null, name: SymbolName): bigint | null {
  const handle = library === null ? 0n : typeof library === 'bigint' ? library : lib(library).handle;
  const c = bindLibc();
  const n = checkName(name);
  const addr = typeof name === 'string' ? c.dlsym(handle, n) : c.dlsymBytes(handle, withNul(name as Uint8Array));
  return addr === 0n ? null : addr;
}

function withNul(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** What dladdr reports: libc's Dl_info for an address. */
export interface AddressInfo {
  /** The path of the object holding the address (dli_fname): /proc/<pid>/fd/<n> for a live library; null if libc gives none. */
  fname: string | null;
  /** The object's load base (dli_fbase). */
  fbase: bigint;
  /** The nearest symbol at or below the address (dli_sname), or null when none covers it. */
  sname: string | null;
  /** That symbol's address (dli_saddr), or null with `sname`. */
  saddr: bigint | null;
}

/** libc's own dladdr(): which object and symbol hold an address. Null when no object does. */
export function dladdr(addr: bigint): AddressInfo | null {
  const info: DlInfo | null = bindLibc().dladdr(checkAddress(addr));
  if (info === null) return null;
  return { fname: info.dli_fname, fbase: info.dli_fbase, sname: info.dli_sname, saddr: info.dli_sname === null ? null : info.dli_saddr };
}

/**
 * A callable for the machine code at `addr`, with a C signature such as
 * `'int add(int a, int b)'`, typed by the caller:
 * `dlfunc<(a: number, b: number) => number>(addr, 'int add(int a, int b)')`.
 *
 * JS types of C types (arguments / results):
 * - `bool`: boolean.
 * - 8-, 16- and 32-bit integers (`char`, `short`, `int`, `int32_t`, `unsigned`, ...), `float`, `double`: number.
 * - 64-bit integers (`int64_t`, `uint64_t`, `long`, `unsigned long`, `long long`, `size_t`, `ssize_t`,
 *   `intptr_t`, `uintptr_t`): number or bigint as arguments, always bigint as results.
 * - pointers (`void *`, `int *`, ...): bigint (or null, or an ArrayBuffer view) as arguments,
 *   always bigint as results (0n for NULL).
 * - `const char *`: string as an argument, string or null as a result.
 * - `void` result: undefined.
 *
 * When `addr` is inside a live library, each call throws EFREED once its
 * block was freed and EDELETED once the library was deleted.
 *
 * @typeParam F - the JS type of the function, written to match the signature.
 */
export function dlfunc<F extends AnyFunction = (...args: unknown[]) => unknown>(addr: bigint, signature: string): F {
  const owner = typeof addr === 'bigint' ? libraryAt(addr) : undefined;
  return owner !== undefined ? (owner as JitLibrary).func<F>(addr, signature) : makeFunction<F>(addr, signature);
}
