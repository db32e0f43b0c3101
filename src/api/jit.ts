// The public run-time API: live JIT libraries. Functions in the style of the C
// original (dlcreate, dlalloc, dlbind, ...) and a class for everyday use; both
// are the same code.
import { isMainThread, threadId } from 'node:worker_threads';
import { SHF_EXECINSTR, SHF_WRITE, STT_FUNC, STT_NOTYPE, STT_OBJECT } from '../elf/constants.js';
import type { ContentSectionName } from '../elf/layout.js';
import { Arena } from '../loader/arena.js';
import { BlockStates, blockBytes } from '../loader/block-states.js';
import { DlbindError } from '../loader/errors.js';
import type { DlInfo } from '../loader/libc.js';
import { randomHex } from '../loader/random.js';
import { type Backing, LiveObject, bindLibc } from '../loader/live-object.js';
import { requireSupportedPlatform } from '../loader/platform.js';
import { buildFromPlan } from '../elf/builder.js';
import { ElfBuildError } from '../elf/errors.js';
import { writeFileAtomic } from '../elf/file.js';
import { type DebugMode, flushAnnouncements, forget, markChanged } from '../loader/debugger.js';
import { type JitDump, acquireJitDump, backingFromEnvironment, perfFromEnvironment, releaseJitDump } from '../loader/jitdump.js';
import { ImportTable, type ImportOptions } from '../loader/imports.js';
import { savePlan } from '../loader/save.js';
import { type LoadObjectOptions, type LoadedObject, deleteObjects, loadObject, unloadObject } from '../loader/object-loader.js';
import { SymbolBinder, symbolsInBytes } from '../loader/binder.js';
import { BlockWriter } from '../loader/block-writer.js';
import { LiveSymbolTable } from '../loader/symtab.js';
import { LiveUnwindTable } from '../loader/unwind.js';
import type { Capacity } from '../loader/zygote.js';
import { type AnyFunction, forgetLibrary, libraryAt, makeFunction, registerLibrary } from './calls.js';
import {
  ADD_DATA_OPTION_KEYS,
  ADD_DATA_SYMBOLS_OPTION_KEYS,
  ADD_FUNCTION_OPTION_KEYS,
  ADD_FUNCTIONS_OPTION_KEYS,
  BIND_MANY_OPTION_KEYS,
  BIND_OPTION_KEYS,
  DLCREATE_OPTION_KEYS,
  FLUSH_OPTION_KEYS,
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
import type {
  Bytes,
  DlcreateOptions,
  BindOptions,
  AddFunctionOptions,
  AddDataOptions,
  BindManyOptions,
  FlushOptions,
  AddFunctionsOptions,
  AddDataSymbolsOptions,
  LiveSymbol,
  LibraryStats,
  SymbolName,
} from './types.js';

export { SHF_WRITE, SHF_EXECINSTR, STT_OBJECT, STT_FUNC, STT_NOTYPE };

export type * from './types.js';

type ArenaName = Exclude<ContentSectionName, 'bss'>;

let counter = 0;

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
  // The internals below are private (#) fields, which a structured clone does not see, so
  // that it carries only the brand above. They cost a dlcreate some 80 ns in all; adding them
  // as non-enumerable properties cost about 0.5 µs each (one Object.defineProperty apiece).
  #announceQueued = false;
  /** @internal For the debugger hooks: an accessor, so that it is no own property a clone would carry. */
  get announceQueued(): boolean {
    return this.#announceQueued;
  }
  /** @internal Set by the debugger hooks while the library waits to be announced. */
  set announceQueued(queued: boolean) {
    this.#announceQueued = queued;
  }
  #object: LiveObject | undefined;
  readonly #symtab: LiveSymbolTable;
  readonly #imports: ImportTable;
  readonly #unwind: LiveUnwindTable;
  readonly #arenas: Record<ArenaName, Arena>;
  readonly #states: BlockStates;
  /** Object offsets of 8-byte words marked by dlreloc as pointers into the library. */
  readonly #pointerWords: Set<number>;
  /** The symbols bound in this library's blocks, and the binds that put them there. */
  readonly #binder: SymbolBinder;
  readonly #capacity: Capacity;
  readonly #sectionStart: Record<ContentSectionName, number>;
  readonly #base: bigint;
  readonly #aliasBase: bigint;
  readonly #arch: 'x86_64' | 'aarch64';
  #jitdump: JitDump | undefined;
  readonly #writer: BlockWriter;

  /** Use `dlcreate()`. */
  constructor(name: string | undefined, options: DlcreateOptions = {}) {
    this.#pointerWords = new Set<number>();
    this.#arch = requireSupportedPlatform();
    checkOptions(options, DLCREATE_OPTION_KEYS, 'dlcreate options');
    if (name !== undefined) checkLibraryName(name, 'library name');
    this.name = name ?? `libdlbind-${process.pid}-${++counter}-${randomHex(6)}.so`;
    const page = this.#arch === 'aarch64' ? 65536 : 4096;
    this.#capacity = checkCapacity(options, page);
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
    this.#object = new LiveObject({ soname: this.name, capacity: this.#capacity, global: options.global === true, backing });
    const o = this.#object;
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
        this.#jitdump = acquireJitDump(dir, this.#arch);
      } catch (err) {
        o.close();
        throw err instanceof DlbindError ? err : new DlbindError('EINVAL', `cannot write the jitdump in ${dir}: ${(err as Error).message}`);
      }
    }
    this.#symtab = new LiveSymbolTable(o.mem, o.layout, this.#capacity.maxSymbols, (start, end) => o.markUsed(start, end), o);
    // Old copies of runs become tombstones after their quarantine: a debugger that read them reads the file again.
    this.#symtab.onRetired = () => markChanged(this);
    this.#unwind = new LiveUnwindTable(o.mem, o.layout);
    this.#arenas = { text: new Arena(this.#capacity.text), rodata: new Arena(this.#capacity.rodata), data: new Arena(this.#capacity.data) };
    const c = o.layout.content;
    this.#sectionStart = { text: c.text.addr, rodata: c.rodata.addr, data: c.data.addr, bss: c.bss.addr };
    this.#base = o.loadBase;
    this.#aliasBase = o.aliasBase;
    this.#writer = new BlockWriter(o, this.#arch, c.text.addr, c.text.addr + c.text.size);
    this.#imports = new ImportTable({
      arch: this.#arch,
      base: this.#base,
      mem: o.mem,
      allocData: (size) => this.alloc(size, SHF_WRITE, 8),
      allocCode: (code) => {
        const at = this.alloc(code.length, SHF_EXECINSTR);
        this.write(at, code);
        return at;
      },
      ownAddress: (name) => {
        const sym = this.#symtab.get(name);
        return sym === undefined ? undefined : this.#base + BigInt(sym.value);
      },
    });
    this.#states = new BlockStates(this.name, this.#arenas.text);
    this.#binder = new SymbolBinder({
      owner: this,
      name: this.name,
      arch: this.#arch,
      object: o,
      symtab: this.#symtab,
      imports: this.#imports,
      unwind: this.#unwind,
      arenas: this.#arenas,
      states: this.#states,
      jitdump: this.#jitdump,
      sectionStart: this.#sectionStart,
      sectionEnd: { text: c.text.addr + c.text.size, rodata: c.rodata.addr + c.rodata.size, data: c.data.addr + c.data.size },
      freeBlock: (objectOffset) => this.free(this.#base + BigInt(objectOffset)),
    });
    registerLibrary(this);
    cloneOnly(this, ['kind', 'thread', 'name', 'debugMode']);
  }

  private live(): LiveObject {
    const o = this.#object;
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
    return this.#base;
  }

  /** Whether the library was deleted (dldelete or delete). */
  get deleted(): boolean {
    return this.#object === undefined;
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
    if (arena === 'text') this.#states.release();
    let offset = this.#arenas[arena].alloc(n, a);
    if (offset < 0 && arena === 'text' && this.#states.release(true) > 0) offset = this.#arenas.text.alloc(n, a);
    if (offset < 0) {
      throw new DlbindError(
        'ENOSPACE',
        `no free block of ${n} bytes in .${arena}: ${this.#arenas[arena].bytesInUse} of ${arena} capacity ${this.#capacity[arena]} bytes in use (raise ${arena} or scale at dlcreate)`,
      );
    }
    const objectOffset = this.#sectionStart[arena] + offset;
    try {
      this.#object!.markUsed(objectOffset, objectOffset + n);
    } catch (e) {
      // The first data block maps the shared data segment; if that fails, the block was never handed out.
      this.#arenas[arena].free(offset);
      throw e;
    }
    this.#states.allocated(objectOffset);
    return this.#base + BigInt(objectOffset);
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
    const { arena, offset } = this.#binder.locate(checkAddress(addr));
    const objectOffset = this.#sectionStart[arena] + offset;
    if (this.#arenas[arena].sizeAt(offset) === undefined) {
      if (this.#states.startsAt(objectOffset)) throw new DlbindError('EFREED', `block at 0x${addr.toString(16)} was already freed`);
      throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not the start of a block this library gave out`);
    }
    this.#binder.blockFreed(objectOffset);
    const size = this.#arenas[arena].retire(offset)!;
    if (arena === 'text') this.#unwind.removeRange(objectOffset, objectOffset + size);
    for (const w of this.#pointerWords) if (w >= objectOffset && w < objectOffset + size) this.#pointerWords.delete(w);
    this.#writer.overwrite(arena, objectOffset, blockBytes(size));
    this.#states.freedBlock(arena, this.#arenas[arena], offset, objectOffset, size);
    if (arena === 'text') this.#states.release();
  }

  /** Copies bytes into a live block through the writable alias; refuses bytes outside the block. */
  write(addr: bigint, bytes: Bytes): void {
    this.live();
    const data = checkBytes(bytes);
    this.#binder.inBlock(checkAddress(addr), data.length);
    this.#writer.write(this.#binder.atArena, this.#binder.atOffset, data);
  }

  /** The writable alias of an address in a live block, for callers that write by themselves. */
  alias(addr: bigint): bigint {
    this.live();
    this.#binder.inBlock(checkAddress(addr), 1);
    return this.#aliasBase + BigInt(this.#binder.atOffset);
  }

  /**
   * Binds `name` to `addr` (inside a block this library gave out, with `size`
   * bytes after it in the same block). From the moment this returns, libc's
   * dlsym finds it and dladdr names it.
   */
  bind(name: SymbolName, addr: bigint, size: number | bigint, type?: number, options?: BindOptions): void {
    // The common case in few steps: a new string name, a number size and an address in the block binds went to last.
    if (options === undefined && typeof name === 'string' && typeof addr === 'bigint' && typeof size === 'number' && this.#object !== undefined) {
      if (this.#binder.bindFast(name, addr, size, type)) return;
    }
    this.live();
    if (options !== undefined) checkOptions(options, BIND_OPTION_KEYS, 'bind options');
    const n = checkName(name);
    const bytes = checkSize(size, 'size');
    this.#binder.bindChecked(n, typeof addr === 'bigint' ? addr : checkAddress(addr), bytes, type, options?.replace === true, options?.unwind);
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
    checkColumn(addresses, 'bindMany: addresses', n.length, true);
    checkColumn(sizes, 'bindMany: sizes', n.length, true);
    this.#binder.bindMany(n, addresses, sizes, type);
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
    const { values, bytes } = symbolsInBytes(offsets, sizes, count, data.length);
    const addr = this.alloc(data.length, flags, align);
    try {
      this.write(addr, data);
      const block = Number(addr - this.#base);
      this.#states.own(block);
      this.#binder.bindInBlock(n, values, bytes, block, this.arenaFor(flags), type);
    } catch (err) {
      this.free(addr);
      throw err;
    }
    return addr;
  }

  /** Removes a symbol: dlsym stops finding it and dladdr stops naming it. Returns false if it was not bound. */
  unbind(name: SymbolName): boolean {
    this.live();
    const n = checkName(name);
    return this.#binder.unbind(n);
  }

  /**
   * Announces symbol changes to an attached debugger now, instead of at the
   * end of this event-loop turn (for synchronous callers about to stop or
   * call into new code). Old copies of symbol runs whose 50 ms quarantine
   * has passed become tombstones first; with `{ settle: true }` it waits for
   * all of them (see FlushOptions). Returns whether an announcement was made.
   */
  flush(options?: FlushOptions): boolean {
    this.live();
    checkOptions(options, FLUSH_OPTION_KEYS, 'flush options');
    const settle = options?.settle ?? false;
    if (typeof settle !== 'boolean') throw new DlbindError('EINVAL', `flush's settle must be a boolean, got ${describeValue(settle)}`);
    this.#symtab.retire(settle);
    return flushAnnouncements(this) > 0;
  }

  /** @internal */
  announceLinkMap(): bigint | undefined {
    return this.#object?.linkMap;
  }

  /** @internal */
  announceFd(): number | undefined {
    return this.#object?.fd;
  }

  /**
   * Marks the 8-byte word at `addr` (in a writable data block) as a pointer
   * into this library: `save` writes a RELATIVE relocation for it, so that the
   * saved object's copy points at the same place wherever it is loaded.
   */
  reloc(addr: bigint): void {
    this.live();
    this.#binder.inBlock(checkAddress(addr), 8);
    const b = this.#binder;
    if (b.atArena !== 'data') throw new DlbindError('EINVAL', 'dlreloc marks words in writable data (SHF_WRITE blocks) only');
    if (b.atOffset % 8 !== 0) throw new DlbindError('EALIGN', `a pointer word must be 8-byte aligned, 0x${addr.toString(16)} is not`);
    this.#pointerWords.add(b.atOffset);
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
    const symbols = [...this.#symtab.entries()].map((s) => ({ ...s, type: this.#symtab.typeOf(s.slot), unwind: this.#unwind.rulesAt(s.value) }));
    const pointerWords = new Set([...this.#pointerWords, ...this.#imports.ownSlotOffsets()]);
    const imports = this.#imports.savedImports();
    let bytes: Uint8Array;
    try {
      try {
        bytes = buildFromPlan(savePlan(o, soname, this.#arenas, symbols, pointerWords, imports)).bytes;
      } catch (err) {
        // Near capacity, two hash tables may not fit below the text's fixed address: GNU alone is smaller.
        if (!(err instanceof ElfBuildError)) throw err;
        bytes = buildFromPlan({ ...savePlan(o, soname, this.#arenas, symbols, pointerWords, imports), hashStyle: 'gnu' }).bytes;
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
    const own = options.from === this || (options.from === undefined && options.version === undefined && this.#symtab.get(n) !== undefined);
    const from = options.from instanceof JitLibrary ? options.from.handle : options.from;
    return this.#imports.import(n, { version: options.version, from: own ? undefined : from }, own);
  }

  /** libc dlsym() on this library's handle. */
  sym(name: SymbolName): bigint | null {
    return dlsym(this, name);
  }

  /** The symbol this library has bound under `name` (its own books, not libc). */
  lookup(name: SymbolName): LiveSymbol | undefined {
    this.live();
    const s = this.#symtab.get(checkName(name));
    return s === undefined ? undefined : this.toLiveSymbol(s.name, s.value, s.size);
  }

  /** Every bound symbol. */
  symbols(): LiveSymbol[] {
    this.live();
    return [...this.#symtab.entries()].map((s) => this.toLiveSymbol(s.name, s.value, s.size));
  }

  /** The capacities and how much of each is in use. */
  stats(): LibraryStats {
    this.live();
    this.#states.release();
    return {
      capacity: { ...this.#capacity },
      symbols: this.#symtab.count,
      textInUse: this.#arenas.text.bytesInUse,
      textQuarantined: this.#arenas.text.bytesRetired,
      rodataInUse: this.#arenas.rodata.bytesInUse,
      dataInUse: this.#arenas.data.bytesInUse,
      stringBytesLeft: this.#symtab.stringBytesLeft,
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
      this.#states.own(Number(addr - this.#base));
      // No bind options unless some were given: bind's fast path takes only calls without them, and an
      // object made here every call (rest and delete) cost more than the bind itself in a fresh process.
      const { replace, unwind } = options;
      let bindOptions: BindOptions | undefined;
      if (replace !== undefined || unwind !== undefined) {
        bindOptions = {};
        if (replace !== undefined) bindOptions.replace = replace;
        if (unwind !== undefined) bindOptions.unwind = unwind;
      }
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
    this.#binder.inBlock(checkAddress(addr), 1);
    return makeFunction<F>(addr, signature, this.#states.guardFor(this.#binder.atBlock));
  }

  /** Whether `addr` lies in this library's mapping. @internal */
  holds(addr: bigint): boolean {
    return this.#object !== undefined && addr >= this.#base && addr < this.#base + BigInt(this.#object.fileSize);
  }

  /**
   * Unbinds everything, dlcloses, unmaps and closes. Later use throws
   * EDELETED. Returns false when ld.so kept the (now empty) object loaded:
   * glibc pins an object that a dlsym(RTLD_DEFAULT) found.
   */
  delete(): boolean {
    const o = this.live();
    deleteObjects(this);
    this.#symtab.clear();
    this.#imports.close();
    this.#unwind.close();
    this.#states.deleted();
    forgetLibrary(this);
    forget(this);
    if (this.#jitdump !== undefined) {
      this.#jitdump = undefined;
      releaseJitDump();
    }
    this.#object = undefined;
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
    return this.#symtab;
  }

  /** @internal */
  get unwindTable(): LiveUnwindTable {
    this.live();
    return this.#unwind;
  }

  private toLiveSymbol(name: string, value: number, size: number): LiveSymbol {
    return { name, address: this.#base + BigInt(value), size, section: this.#binder.sectionOf(value) ?? 'data' };
  }

  private arenaFor(flags: number): ArenaName {
    if (typeof flags !== 'number' || !Number.isInteger(flags))
      throw new DlbindError('EINVAL', `flags must be SHF_EXECINSTR, SHF_WRITE or 0, got ${String(flags)}`);
    if ((flags & SHF_WRITE) !== 0 && (flags & SHF_EXECINSTR) !== 0)
      throw new DlbindError('EWX', 'memory is never both writable and executable (SHF_WRITE | SHF_EXECINSTR)');
    if ((flags & ~(SHF_WRITE | SHF_EXECINSTR)) !== 0) throw new DlbindError('EINVAL', `unknown flags 0x${flags.toString(16)}`);
    return flags & SHF_EXECINSTR ? 'text' : flags & SHF_WRITE ? 'data' : 'rodata';
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
  // The instanceof test in line: a call less per bind in the interpreter, which runs a process's first binds.
  (library instanceof JitLibrary ? library : lib(library)).bind(name, addr, size, type, options);
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
