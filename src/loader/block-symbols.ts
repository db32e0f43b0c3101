// Which symbols are bound inside each block of a live library, so that
// freeing a block unbinds them and a replace can tell when the block its old
// symbol sat in has nothing else bound in it.
import { grownTo } from '../elf/bytes.js';

/**
 * Owns, per block (keyed by its object offset), the list of symbol-table
 * slots bound inside it: an intrusive doubly linked list in typed arrays
 * indexed by slot (slot 0 is never a symbol, so 0 ends a list), so that a
 * bind links its slot in with a few stores instead of growing a Set per block.
 */
export class BlockSymbols {
  /** The first slot of each block's list, but for the block binds went to last (in headBlock/headSlot). */
  private readonly heads = new Map<number, number>();
  // Consecutive binds into one block skip the map. None yet: any negative number; a double from the start,
  // as a block's offset can come from float arithmetic (a -1 here turned double at the first addFunction,
  // which deprecated this class's hidden class and 5 maps).
  private headBlock = -0.5;
  private headSlot = 0;
  // Sized for the slots used so far, not the table's capacity: an idle library stays small.
  private blockOf = new Float64Array(64);
  private next = new Int32Array(64);
  private prev = new Int32Array(64);

  /** Puts `slot` (newly bound) at the head of `block`'s list. */
  link(slot: number, block: number): void {
    if (slot >= this.next.length) this.grow(slot);
    const head = block === this.headBlock ? this.headSlot : (this.heads.get(block) ?? 0);
    this.blockOf[slot] = block;
    this.prev[slot] = 0;
    this.next[slot] = head;
    if (head !== 0) this.prev[head] = slot;
    if (block === this.headBlock) this.headSlot = slot;
    else this.setHead(block, slot);
  }

  /** link for each `slots[i]` into `blocks[i]`. */
  linkAll(slots: Int32Array, blocks: Float64Array): void {
    let most = 0;
    for (let i = 0; i < slots.length; i++) if (slots[i]! > most) most = slots[i]!;
    if (most >= this.next.length) this.grow(most);
    for (let i = 0; i < slots.length; i++) this.link(slots[i]!, blocks[i]!);
  }

  /** Takes `slot` (about to be unbound, or replaced) out of its block's list; returns that block. */
  unlink(slot: number): number {
    const prev = this.prev[slot]!;
    const next = this.next[slot]!;
    const block = this.blockOf[slot]!;
    if (prev !== 0) this.next[prev] = next;
    else this.setHead(block, next);
    if (next !== 0) this.prev[next] = prev;
    return block;
  }

  /** Whether any symbol is bound inside `block`. */
  has(block: number): boolean {
    return this.headOf(block) !== 0;
  }

  /** The slots bound inside `block`, its list emptied (the block is being freed). */
  take(block: number): number[] {
    const slots: number[] = [];
    for (let slot = this.headOf(block); slot !== 0; slot = this.next[slot]!) slots.push(slot);
    if (slots.length > 0) this.setHead(block, 0);
    return slots;
  }

  private headOf(block: number): number {
    return block === this.headBlock ? this.headSlot : (this.heads.get(block) ?? 0);
  }

  private setHead(block: number, slot: number): void {
    if (block !== this.headBlock) {
      if (this.headBlock >= 0) {
        if (this.headSlot !== 0) this.heads.set(this.headBlock, this.headSlot);
        else this.heads.delete(this.headBlock);
      }
      this.headBlock = block;
    }
    this.headSlot = slot;
  }

  private grow(slot: number): void {
    const length = Math.max(slot + 1, this.next.length * 2);
    this.blockOf = grownTo(this.blockOf, length);
    this.next = grownTo(this.next, length);
    this.prev = grownTo(this.prev, length);
  }
}
