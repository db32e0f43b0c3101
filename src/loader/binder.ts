// Binding symbols into a live library's blocks: finding the block an address
// lies in, checking that the symbol fits there, storing it in the symbol
// table, and the bookkeeping every bound symbol has (its block's list, the
// import slots that follow it, debuggers, perf).
import { ELF64_ST_INFO, STB_GLOBAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STV_DEFAULT } from '../elf/constants.js';
import type { Arena } from './arena.js';
import { BlockSymbols } from './block-symbols.js';
import type { ArenaName, BlockStates } from './block-states.js';
import { type Announceable, markChanged } from './debugger.js';
import { DlbindError, locatedError } from './errors.js';
import type { ImportTable } from './imports.js';
import type { JitDump } from './jitdump.js';
import type { LiveObject } from './live-object.js';
import type { LiveSymbolTable } from './symtab.js';
import { type LiveUnwindTable, checkUnwind } from './unwind.js';
import { checkAddress, checkSize } from './values.js';
import { describeValue } from '../elf/checks.js';

const ARENAS: readonly ArenaName[] = ['text', 'rodata', 'data'];

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

/**
 * Where a batch's symbols lie in `length` bytes about to become one block
 * (addFunctions, addDataSymbols): `offsets[i]` into them, `sizes[i]` bytes, or
 * without sizes up to the next offset (the last to the end). Checked: the
 * offsets inside, the sizes positive and inside. Columns checked already.
 */
export function symbolsInBytes(
  offsets: ArrayLike<unknown>,
  sizes: ArrayLike<unknown> | undefined,
  count: number,
  length: number,
): { values: Float64Array; bytes: Float64Array } {
  const values = new Float64Array(count);
  const bytes = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = offsets[i];
    if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at >= length)
      throw new DlbindError('EINVAL', `offsets[${i}] must be an integer offset into the ${length} bytes, got ${describeValue(at)}`);
    const next = i + 1 < count ? (offsets[i + 1] as number) : length;
    let size: number;
    try {
      size = sizes !== undefined ? checkSize(sizes[i], 'size') : next - at;
    } catch (err) {
      throw locatedError(err, `sizes[${i}]`);
    }
    if (!(size > 0))
      throw new DlbindError('EINVAL', `offsets[${i + 1}] is ${String(next)}, not after offsets[${i}] ${at} (without sizes, offsets must increase)`);
    if (at + size > length) throw new DlbindError('ERANGE', `sizes[${i}]: ${size} bytes at offset ${at} run past the end of the ${length} bytes`);
    values[i] = at;
    bytes[i] = size;
  }
  return { values, bytes };
}

/** The parts of a live library a binder works on, all made by the library before it. */
export interface BinderParts {
  /** The library, for debugger announcements. */
  readonly owner: Announceable;
  /** The library's name, for messages. */
  readonly name: string;
  readonly arch: 'x86_64' | 'aarch64';
  readonly object: LiveObject;
  readonly symtab: LiveSymbolTable;
  readonly imports: ImportTable;
  readonly unwind: LiveUnwindTable;
  readonly arenas: Readonly<Record<ArenaName, Arena>>;
  readonly states: BlockStates;
  readonly jitdump: JitDump | undefined;
  /** Object offsets where each section starts and ends. */
  readonly sectionStart: Readonly<Record<ArenaName, number>>;
  readonly sectionEnd: Readonly<Record<ArenaName, number>>;
  /** Frees the block at an object offset as dlfree does (a replace frees the block addFunction made for the old symbol). */
  readonly freeBlock: (objectOffset: number) => void;
}

/**
 * Owns a live library's symbol binding: the per-block symbol lists
 * (BlockSymbols), the last block an address was found in (so consecutive
 * binds and writes into one block skip the search), bind's fast path and its
 * checked path, the batches (bindMany, addFunctions, addDataSymbols), unbind,
 * and the unbinding of a freed block's symbols.
 */
export class SymbolBinder {
  /**
   * Results of the last inBlock, kept in fields so the hot path allocates nothing: the address's
   * object offset (a double from the start: inBlock's offset is float arithmetic, and a 0 here
   * turned double at the first addFunction, which deprecated the binder's hidden class and 11 maps), */
  atOffset = -0.5;
  /** its arena, */
  atArena: ArenaName = 'text';
  /** and its block's object offset. */
  atBlock = 0;
  private readonly blocks = new BlockSymbols();
  private readonly base: bigint;
  private readonly baseNumber: number;
  /** The last block inBlock found: [lastStart, lastEnd) in lastArena, whose section index is lastShndx and default symbol type lastType. */
  private lastStart = -1;
  private lastEnd = -1;
  private lastArena: ArenaName = 'text';
  private lastShndx = 0;
  private lastType = STT_FUNC;

  constructor(private readonly parts: BinderParts) {
    this.base = parts.object.loadBase;
    this.baseNumber = Number(parts.object.loadBase);
  }

  /**
   * bind's common case in few steps: a new string name, a number size and an
   * address in the block binds went to last. Returns false, having changed
   * nothing, when the case is any other (then bindChecked decides).
   */
  bindFast(name: string, addr: bigint, size: number, type: number | undefined): boolean {
    addressWord[0] = addr;
    const objectOffset = addressHalves[0]! + addressHalves[1]! * 4294967296 - this.baseNumber;
    // Sizes below 2^31 only ((size | 0) === size: no call in the interpreter); larger ones take the checked path.
    if (objectOffset >= this.lastStart && objectOffset + size <= this.lastEnd && (size | 0) === size && size > 0 && addr < ADDRESS_LIMIT && addr >= 0n) {
      const stt = type === undefined ? this.lastType : type;
      if (stt === STT_FUNC || stt === STT_OBJECT || stt === STT_NOTYPE) {
        const slot = this.parts.symtab.bindNew(name, objectOffset, size, STB_GLOBAL_INFO + stt, this.lastShndx);
        if (slot !== 0) {
          this.recordBind(slot, name, objectOffset, size, stt, this.lastStart);
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The table's one-pass bind for a new name (what addFunction with unwind rules binds), else its
   * bind with every check: a replace, a name bound already, a name that needs encoding.
   */
  private bindInTable(name: string, objectOffset: number, size: number, info: number, shndx: number, replace: boolean): number {
    const symtab = this.parts.symtab;
    const slot = replace ? 0 : symtab.bindNew(name, objectOffset, size, info, shndx);
    return slot !== 0 ? slot : symtab.bind(name, objectOffset, size, info, STV_DEFAULT, shndx, replace);
  }

  /** bind with every check past the name's and the size's, for every case (replace, unwind rules, an existing name). */
  bindChecked(name: string, addr: bigint, size: number, type: number | undefined, replace: boolean, unwind: unknown): void {
    const { symtab, states } = this.parts;
    this.inBlock(addr, size);
    const objectOffset = this.atOffset;
    const arena = this.atArena;
    const block = this.atBlock;
    const stt = type ?? (arena === 'text' ? STT_FUNC : STT_OBJECT);
    if (stt !== STT_FUNC && stt !== STT_OBJECT && stt !== STT_NOTYPE)
      throw new DlbindError('EINVAL', `symbol type must be STT_FUNC, STT_OBJECT or STT_NOTYPE, got ${String(stt)}`);
    const previous = replace ? symtab.slotOfName(name) : 0;
    const info = ELF64_ST_INFO(STB_GLOBAL, stt);
    const shndx = this.parts.object.layout.sectionIndex[arena];
    let slot: number;
    if (unwind === undefined) {
      slot = this.bindInTable(name, objectOffset, size, info, shndx, replace);
    } else {
      if (arena !== 'text') throw new DlbindError('EINVAL', 'unwind rules are for code (SHF_EXECINSTR blocks)');
      // The rules go in before the symbol can be found, so no caller runs the function without them.
      const table = this.parts.unwind;
      const had = table.entryAt(objectOffset);
      table.set(objectOffset, size, checkUnwind(this.parts.arch, unwind));
      try {
        slot = this.bindInTable(name, objectOffset, size, info, shndx, replace);
      } catch (err) {
        table.undo(objectOffset, had);
        throw err;
      }
    }
    const replacedBlock = previous !== 0 ? this.blocks.unlink(previous) : -1;
    this.recordBind(slot, name, objectOffset, size, stt, block);
    // What addFunction/addData made for the old symbol goes with it, once nothing else is bound there.
    if (replacedBlock >= 0 && replacedBlock !== block && states.owns(replacedBlock) && !this.blocks.has(replacedBlock)) this.parts.freeBlock(replacedBlock);
  }

  /**
   * Binds a batch given as columns (names checked already): each entry is
   * checked before any is stored, all or nothing, and an error names the
   * entry (`sizes[3]: ...`).
   */
  bindMany(names: string[], addresses: ArrayLike<unknown>, sizes: ArrayLike<unknown>, type: number | undefined): void {
    const count = names.length;
    const values = new Float64Array(count);
    const bytes = new Float64Array(count);
    const infos = new Uint8Array(count);
    const shndx = new Uint16Array(count);
    const blocks = new Float64Array(count);
    const sectionIndex = this.parts.object.layout.sectionIndex;
    let column = 'sizes';
    let i = 0;
    try {
      for (; i < count; i++) {
        column = 'sizes';
        const size = sizes[i];
        const length = typeof size === 'number' && Number.isSafeInteger(size) && size > 0 ? size : checkSize(size, 'size');
        column = 'addresses';
        const addr = addresses[i];
        this.inBlock(typeof addr === 'bigint' ? addr : checkAddress(addr), length);
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
    this.bindColumns(names, values, bytes, infos, shndx, blocks);
  }

  /**
   * Binds a batch into one block at `block` (an object offset) in `arena`:
   * `names[i]` at `offsets[i]` into it, `sizes[i]` bytes (checked already to
   * lie in the block), all of type `type`. All or nothing.
   */
  bindInBlock(names: string[], offsets: Float64Array, sizes: Float64Array, block: number, arena: ArenaName, type: number): void {
    const count = names.length;
    for (let i = 0; i < count; i++) offsets[i]! += block;
    const info = ELF64_ST_INFO(STB_GLOBAL, type);
    const shndx = this.parts.object.layout.sectionIndex[arena];
    this.bindColumns(names, offsets, sizes, new Uint8Array(count).fill(info), new Uint16Array(count).fill(shndx), new Float64Array(count).fill(block));
  }

  /** Unbinds `name`; returns false if it was not bound. */
  unbind(name: string): boolean {
    const removed = this.parts.symtab.unbind(name);
    if (removed === undefined) return false;
    this.blocks.unlink(removed.slot);
    this.parts.imports.unbound(name);
    markChanged(this.parts.owner);
    return true;
  }

  /** Unbinds every symbol inside the block at `block` (an object offset), which is being freed, and forgets it as the last block. */
  blockFreed(block: number): void {
    const slots = this.blocks.take(block);
    if (slots.length > 0) {
      const { symtab, imports } = this.parts;
      const names = slots.map((slot) => symtab.nameAt(slot)!);
      for (const name of names) {
        symtab.unbind(name);
        imports.unbound(name);
      }
      markChanged(this.parts.owner);
    }
    this.lastStart = this.lastEnd = -1;
  }

  /**
   * Checks that [addr, addr+length) lies in one live block; leaves its object
   * offset, arena and block start in atOffset, atArena and atBlock. Addresses
   * are below 2^47, so a number holds them exactly and the common case (the
   * same block as last time) needs no bigint arithmetic.
   */
  inBlock(addr: bigint, length: number): void {
    addressWord[0] = addr;
    const objectOffset = addressHalves[0]! + addressHalves[1]! * 4294967296 - this.baseNumber;
    if (objectOffset >= this.lastStart && objectOffset + length <= this.lastEnd && addr < ADDRESS_LIMIT && addr >= 0n) {
      this.atOffset = objectOffset;
      this.atArena = this.lastArena;
      this.atBlock = this.lastStart;
      return;
    }
    const { arena, offset } = this.locate(addr);
    const block = this.parts.arenas[arena].blockContaining(offset);
    const sectionStart = this.parts.sectionStart;
    if (block === undefined) {
      const at = sectionStart[arena] + offset;
      if (this.parts.states.holds(at)) throw new DlbindError('EFREED', `0x${addr.toString(16)} is in a block that was freed`);
      throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not inside a block this library gave out`);
    }
    if (offset + length > block.offset + block.size) {
      throw new DlbindError('ERANGE', `${length} bytes at 0x${addr.toString(16)} run past the end of their ${block.size}-byte block`);
    }
    const start = sectionStart[arena] + block.offset;
    this.lastStart = start;
    this.lastEnd = start + block.size;
    this.lastArena = arena;
    this.lastShndx = this.parts.object.layout.sectionIndex[arena];
    this.lastType = arena === 'text' ? STT_FUNC : STT_OBJECT;
    this.atOffset = sectionStart[arena] + offset;
    this.atArena = arena;
    this.atBlock = start;
  }

  /** Which arena an address falls in, and its offset there; EFOREIGN when it is not this library's. */
  locate(addr: bigint): { arena: ArenaName; offset: number } {
    const rel = addr - this.base;
    if (rel >= 0n && rel < BigInt(this.parts.object.fileSize)) {
      const objectOffset = Number(rel);
      const arena = this.sectionOf(objectOffset);
      if (arena !== undefined) return { arena, offset: objectOffset - this.parts.sectionStart[arena] };
    }
    throw new DlbindError('EFOREIGN', `0x${addr.toString(16)} is not in library ${this.parts.name}'s text, rodata or data`);
  }

  /** The arena an object offset lies in, if any. */
  sectionOf(objectOffset: number): ArenaName | undefined {
    const { sectionStart, sectionEnd } = this.parts;
    for (const a of ARENAS) if (objectOffset >= sectionStart[a] && objectOffset < sectionEnd[a]) return a;
    return undefined;
  }

  /** Stores a checked batch (all or nothing, in the table) and does each symbol's bookkeeping, as recordBind does for one. */
  private bindColumns(names: string[], values: Float64Array, sizes: Float64Array, infos: Uint8Array, shndx: Uint16Array, blocks: Float64Array): void {
    const slots = this.parts.symtab.bindBatch(names, values, sizes, infos, shndx);
    const count = slots.length;
    if (count === 0) return;
    this.blocks.linkAll(slots, blocks);
    const { imports, jitdump } = this.parts;
    if (imports.followsOwn) for (let i = 0; i < count; i++) imports.bound(names[i]!, this.base + BigInt(values[i]!));
    markChanged(this.parts.owner);
    if (jitdump !== undefined) {
      const mem = this.parts.object.mem;
      for (let i = 0; i < count; i++) {
        if ((infos[i]! & 0xf) === STT_FUNC) jitdump.codeLoad(names[i]!, this.base + BigInt(values[i]!), mem.slice(values[i]!, values[i]! + sizes[i]!));
      }
    }
  }

  /** Bookkeeping after a new symbol went into the table: its block's list, import slots, debuggers, perf. */
  private recordBind(slot: number, name: string, objectOffset: number, size: number, stt: number, block: number): void {
    this.blocks.link(slot, block);
    const { imports, jitdump } = this.parts;
    if (imports.followsOwn) imports.bound(name, this.base + BigInt(objectOffset));
    markChanged(this.parts.owner);
    if (jitdump !== undefined && stt === STT_FUNC)
      jitdump.codeLoad(name, this.base + BigInt(objectOffset), this.parts.object.mem.slice(objectOffset, objectOffset + size));
  }
}
