// What becomes of a block after dlfree, so that freed code never runs
// silently: its bytes are overwritten at once (text with a trap, data with
// zeros), functions made for it (dlfunc, lib.func) throw EFREED at their next
// call, and a freed text block is quarantined before reuse, so that a thread
// still running the old code traps instead of running its new occupant.
import type { Arena } from './arena.js';
import { ARENA_GRANULE } from './arena.js';
import { DlbindError } from './errors.js';

/**
 * A freed text block stays out of reach this long before an alloc may get
 * it again, as freed symbol slots do: a thread that was inside the old code
 * has long left it (trapped on the fill) by then. An alloc that finds no other
 * room releases the quarantine early.
 */
export const TEXT_QUARANTINE_MS = 50;

export const GUARD_LIVE = 0;
export const GUARD_FREED = 1;
export const GUARD_DELETED = 2;

/** One per block that functions were made for; their calls read `state`. */
export interface BlockGuard {
  state: number;
  /** The library's name, for messages. */
  what: string;
}

/** The error a stale function throws. */
export function guardError(guard: BlockGuard, fn: string): DlbindError {
  return guard.state === GUARD_DELETED
    ? new DlbindError('EDELETED', `cannot call ${fn}: library ${guard.what} was deleted`)
    : new DlbindError('EFREED', `cannot call ${fn}: its block in library ${guard.what} was freed`);
}

/** The fill of freed code: int3 on x86_64 (one byte, so every entry point traps), brk #0xdb on aarch64. */
export function trapFill(arch: 'x86_64' | 'aarch64', length: number): Uint8Array {
  if (arch === 'x86_64') return new Uint8Array(length).fill(0xcc);
  const words = new Uint32Array(Math.ceil(length / 4)).fill(0xd4201b60);
  return new Uint8Array(words.buffer, 0, length);
}

/** A block's bytes, rounding included, for its size as asked for. */
export function blockBytes(asked: number): number {
  return Math.ceil(asked / ARENA_GRANULE) * ARENA_GRANULE;
}

export type ArenaName = 'text' | 'rodata' | 'data';

export class BlockStates {
  /** Blocks given back (object offset → bytes, rounding included): an address in one that no live block holds is EFREED, not EFOREIGN. */
  private readonly freed = new Map<number, number>();
  /** Retired text blocks waiting to be released: arena offsets, sizes as asked for, and when. */
  private readonly queued: { offset: number; asked: number; time: number }[] = [];
  private queueHead = 0;
  private readonly guards = new Map<number, BlockGuard>();
  /** Blocks that addFunction/addData made: a replace frees them with the symbol they held. */
  private readonly owned = new Set<number>();

  constructor(
    private readonly name: string,
    private readonly text: Arena,
  ) {}

  /** Marks the block at `blockObjectOffset` as made by addFunction/addData. */
  own(blockObjectOffset: number): void {
    this.owned.add(blockObjectOffset);
  }

  owns(blockObjectOffset: number): boolean {
    return this.owned.has(blockObjectOffset);
  }

  /** The guard of the block starting at `blockObjectOffset`, made on first use. */
  guardFor(blockObjectOffset: number): BlockGuard {
    let g = this.guards.get(blockObjectOffset);
    if (g === undefined) {
      g = { state: GUARD_LIVE, what: this.name };
      this.guards.set(blockObjectOffset, g);
    }
    return g;
  }

  /**
   * A block was taken out of its arena's use (the caller has retired it,
   * unbound its symbols and overwritten it): stop its functions, and release
   * it to the arena now (rodata, data) or after the quarantine (text).
   */
  freedBlock(arena: ArenaName, arenaObject: Arena, offset: number, objectOffset: number, asked: number): void {
    const size = blockBytes(asked);
    const g = this.guards.get(objectOffset);
    if (g !== undefined) {
      g.state = GUARD_FREED;
      this.guards.delete(objectOffset);
    }
    this.freed.set(objectOffset, size);
    this.owned.delete(objectOffset);
    if (arena === 'text') this.queued.push({ offset, asked, time: performance.now() });
    else arenaObject.release(offset, asked);
  }

  /** Releases the text blocks whose quarantine is over (every one with `all`); returns how many. */
  release(all = false): number {
    const now = performance.now();
    let n = 0;
    while (this.queueHead < this.queued.length) {
      const q = this.queued[this.queueHead]!;
      if (!all && now - q.time < TEXT_QUARANTINE_MS) break;
      this.text.release(q.offset, q.asked);
      this.queueHead++;
      n++;
    }
    if (this.queueHead === this.queued.length) {
      this.queued.length = 0;
      this.queueHead = 0;
    }
    return n;
  }

  /** Whether text blocks wait in the quarantine. */
  get quarantined(): boolean {
    return this.queueHead < this.queued.length;
  }

  /** A block was allocated at `objectOffset`: it is no longer a freed one. */
  allocated(objectOffset: number): void {
    this.freed.delete(objectOffset);
  }

  /** Whether a freed block starts exactly at `objectOffset`. */
  startsAt(objectOffset: number): boolean {
    return this.freed.has(objectOffset);
  }

  /** Whether `objectOffset` lies in a freed block. */
  holds(objectOffset: number): boolean {
    for (const [start, size] of this.freed) if (objectOffset >= start && objectOffset < start + size) return true;
    return false;
  }

  /** The library was deleted: every function made for it throws EDELETED. */
  deleted(): void {
    for (const g of this.guards.values()) g.state = GUARD_DELETED;
    this.guards.clear();
  }
}
