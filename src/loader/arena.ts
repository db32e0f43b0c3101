// A first-fit allocator over one section's byte range, with size-class bins
// for the free blocks and coalescing of neighbours on free. Offsets are
// numbers relative to the arena's start; the caller turns them into
// addresses. Nothing here touches memory: it only keeps the books.

/** The smallest block, and the granularity of every block size. */
export const ARENA_GRANULE = 16;

export interface BlockInfo {
  offset: number;
  size: number;
}

export class Arena {
  /** Allocated blocks: offset → the size asked for (the block itself is that rounded up to ARENA_GRANULE). */
  private readonly used = new Map<number, number>();
  /** Allocated block offsets in ascending order, for finding the block that holds an offset. */
  private sortedUsed: number[] = [];
  private sortedDirty = false;
  /** Free blocks: offset → size, and end → offset for merging with the block before. */
  private readonly freeByStart = new Map<number, number>();
  private readonly freeByEnd = new Map<number, number>();
  /** Free block offsets binned by floor(log2(size)); a bin's set is made when first needed. */
  // Grown as bins are first used (no bin past its end holds anything): a fresh arena allocates no 54-slot array.
  private readonly bins: (Set<number> | undefined)[] = [];
  private usedBytes = 0;
  private retiredBytes = 0;
  /**
   * The free block that reaches the arena's end, [tailStart, end), kept out of the maps and bins:
   * most blocks come from it, and taking one is then two field stores, where removing and
   * inserting it in three maps and a set made 5.5 MB of garbage per 3,000 addFunction calls.
   */
  private tailStart = 0;
  private readonly end: number;
  /**
   * Free blocks put in the tail block's bin since the tail last changed: first fit took the tail
   * before them (it was re-inserted at each change, so they came after it in the set's order).
   */
  private readonly afterTail = new Set<number>();

  constructor(readonly capacity: number) {
    this.end = capacity >= ARENA_GRANULE ? Math.floor(capacity / ARENA_GRANULE) * ARENA_GRANULE : 0;
  }

  get bytesInUse(): number {
    return this.usedBytes;
  }

  /** Bytes of retired blocks, not in use and not yet free. */
  get bytesRetired(): number {
    return this.retiredBytes;
  }

  get blockCount(): number {
    return this.used.size;
  }

  /** Returns the offset of a fresh block, or -1 when no free block fits. */
  alloc(size: number, align: number): number {
    const need = granules(size);
    const a = Math.max(align, ARENA_GRANULE);
    // First fit by bin, as if the tail block were in its bin's set, after the blocks there (it was
    // the one inserted last, each time a block was taken from it).
    const tailBin = this.tailBin();
    const lastBin = Math.max(this.bins.length - 1, tailBin);
    for (let bin = binOf(need); bin <= lastBin; bin++) {
      const set = this.bins[bin];
      let tailTried = bin !== tailBin;
      if (set !== undefined) {
        for (const start of set) {
          if (!tailTried && this.afterTail.has(start)) {
            tailTried = true;
            const at = this.fromTail(need, a, size);
            if (at >= 0) return at;
          }
          const blockSize = this.freeByStart.get(start)!;
          const aligned = Math.ceil(start / a) * a;
          if (aligned + need > start + blockSize) continue;
          this.removeFree(start, blockSize);
          if (aligned > start) this.insertFree(start, aligned - start);
          const tail = start + blockSize - (aligned + need);
          if (tail > 0) this.insertFree(aligned + need, tail);
          return this.taken(aligned, size, need);
        }
      }
      if (!tailTried) {
        const at = this.fromTail(need, a, size);
        if (at >= 0) return at;
      }
    }
    return -1;
  }

  /** The bin the tail block would be in, or -1 when the tail is used up. */
  private tailBin(): number {
    return this.tailStart < this.end ? binOf(this.end - this.tailStart) : -1;
  }

  /** A block of `need` bytes aligned to `a` from the tail block, or -1 when it does not fit there. */
  private fromTail(need: number, a: number, size: number): number {
    const start = this.tailStart;
    const aligned = Math.ceil(start / a) * a;
    if (aligned + need > this.end) return -1;
    if (aligned > start) this.insertFree(start, aligned - start);
    this.tailStart = aligned + need;
    this.afterTail.clear();
    return this.taken(aligned, size, need);
  }

  /** Books a block just taken from the free space at `aligned`: `size` as asked for, `need` rounded. */
  private taken(aligned: number, size: number, need: number): number {
    this.used.set(aligned, size);
    this.usedBytes += need;
    const n = this.sortedUsed.length;
    if (n === 0 || this.sortedUsed[n - 1]! < aligned) this.sortedUsed.push(aligned);
    else {
      this.sortedUsed.push(aligned);
      this.sortedDirty = true;
    }
    return aligned;
  }

  /** Size (as asked for) of the block that starts exactly at `offset`, or undefined. */
  sizeAt(offset: number): number | undefined {
    return this.used.get(offset);
  }

  /** Frees the block starting at `offset`; returns its size, or undefined if no block starts there. */
  free(offset: number): number | undefined {
    const asked = this.retire(offset);
    if (asked !== undefined) this.release(offset, asked);
    return asked;
  }

  /**
   * Takes the block at `offset` out of use without making it free: no
   * address in it belongs to a block any more, but no alloc gets it until
   * `release`; its bytes count as retired, not in use. Returns its size as
   * asked for, or undefined if no block starts there.
   */
  retire(offset: number): number | undefined {
    const asked = this.used.get(offset);
    if (asked === undefined) return undefined;
    const size = granules(asked);
    this.usedBytes -= size;
    this.retiredBytes += size;
    this.used.delete(offset);
    this.removeSorted(offset);
    return asked;
  }

  /** Makes a retired block (offset, size as asked for) free, merged with free neighbours. */
  release(offset: number, asked: number): void {
    const size = granules(asked);
    this.retiredBytes -= size;
    let start = offset;
    let end = offset + size;
    const before = this.freeByEnd.get(start);
    if (before !== undefined) {
      this.removeFree(before, start - before);
      start = before;
    }
    if (end === this.tailStart) {
      this.tailStart = start;
      this.afterTail.clear();
      return;
    }
    const afterSize = this.freeByStart.get(end);
    if (afterSize !== undefined) {
      this.removeFree(end, afterSize);
      end += afterSize;
    }
    this.insertFree(start, end - start);
  }

  /** The allocated block holding `offset`, if any. */
  blockContaining(offset: number): BlockInfo | undefined {
    const exact = this.used.get(offset);
    if (exact !== undefined) return { offset, size: exact };
    const sorted = this.sorted();
    let lo = 0;
    let hi = sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const start = sorted[found]!;
    const size = this.used.get(start)!;
    // The rounding slack belongs to the block too, so that a write that starts there is "past the end", not "unallocated".
    return offset < start + granules(size) ? { offset: start, size } : undefined;
  }

  /** Whether `offset` lies outside every allocated block (never given out, retired, or given back). */
  isFree(offset: number): boolean {
    return offset >= 0 && offset < this.capacity && this.blockContaining(offset) === undefined;
  }

  /** Every allocated block, in address order. */
  blocks(): BlockInfo[] {
    return this.sorted().map((offset) => ({ offset, size: this.used.get(offset)! }));
  }

  private sorted(): number[] {
    if (this.sortedDirty) {
      this.sortedUsed.sort((x, y) => x - y);
      this.sortedDirty = false;
    }
    return this.sortedUsed;
  }

  private removeSorted(offset: number): void {
    const sorted = this.sorted();
    const n = sorted.length;
    if (n > 0 && sorted[n - 1] === offset) {
      sorted.pop();
      return;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = sorted[mid]!;
      if (v === offset) {
        sorted.splice(mid, 1);
        return;
      }
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
  }

  private insertFree(start: number, size: number): void {
    this.freeByStart.set(start, size);
    this.freeByEnd.set(start + size, start);
    const bin = binOf(size);
    (this.bins[bin] ??= new Set()).add(start);
    if (bin === this.tailBin()) this.afterTail.add(start);
  }

  private removeFree(start: number, size: number): void {
    this.freeByStart.delete(start);
    this.freeByEnd.delete(start + size);
    this.bins[binOf(size)]?.delete(start);
    this.afterTail.delete(start);
  }
}

function granules(size: number): number {
  return Math.max(ARENA_GRANULE, Math.ceil(size / ARENA_GRANULE) * ARENA_GRANULE);
}

function binOf(size: number): number {
  return Math.min(53, Math.floor(Math.log2(size)));
}
