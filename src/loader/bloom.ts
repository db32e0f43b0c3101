// The bloom filter of a live GNU hash table, kept exact: each bit set is the
// bit of some name a bucket's chain reaches, so that eu-elflint (which
// recomputes the filter from the names and compares) accepts the live file,
// and misses keep failing fast after unbinds.
//
// glibc reads one bloom word (64 bits) per lookup and needs both of a name's
// bits set there, or it answers "not here" without looking at the chain. A
// lookup racing an update is correct as long as every word it can read holds
// at least the bits of the names bound at that moment. So:
//
// * A bind sets its name's two bits (OR, 32-bit stores, store-release on weakly
//   ordered CPUs) before the symbol is published.
// * An unbind clears a bit only after the symbol is unreachable, and only a bit
//   no other reachable name uses (see below). Words are only ever
//   rewritten in place (their place is fixed at load), one 32-bit half at a
//   time, from a superset of the needed bits to a smaller superset of them, so
//   a reader sees the old half or the new one and either suffices.
// * Binds and unbinds of one library run on its thread, one at a time, so no
//   bit being set is lost to a clear.
//
// How many reachable names set a bit is known without a count per bit: a set
// bit means at least one, and a map holds how many more for the bits two or
// more names share (about two per 64-bit word at full capacity, a handful in
// a small table). The map is made at the first unbind, from the names bound
// then (sorted bit indexes, counted in runs): a table that never unbinds pays
// nothing, and the memory follows the names bound, not the capacity.
import { grownTo } from '../elf/bytes.js';

export class LiveBloom {
  /** Bits set by more than one reachable name: global bit index -> how many names beyond the first. */
  private shared: Map<number, number> | undefined;

  /**
   * `words`: the filter's 64-bit words as little-endian 32-bit halves; `mask`:
   * words - 1; `shift`: the second bit's shift; `release`: whether stores
   * must be store-releases (a weakly ordered CPU), so that a reader that sees
   * a bit also sees what was written before it.
   */
  constructor(
    private readonly words: Uint32Array,
    private readonly mask: number,
    private readonly shift: number,
    private readonly release: boolean,
  ) {}

  /** A publishing 32-bit store (a plain store where the CPU keeps stores in order). */
  private store(a: Uint32Array, i: number, v: number): void {
    if (this.release) Atomics.store(a, i, v);
    else a[i] = v;
  }

  /** The global indexes (word * 64 + bit) of a hash's two bits. */
  private bit1(hash: number): number {
    return ((hash >>> 6) & this.mask) * 64 + (hash & 63);
  }
  private bit2(hash: number): number {
    return ((hash >>> 6) & this.mask) * 64 + ((hash >>> this.shift) & 63);
  }

  /** Sets the bits of a name about to be published. */
  add(hash: number): void {
    if (this.shared !== undefined) {
      this.set(this.bit1(hash));
      this.set(this.bit2(hash));
      return;
    }
    const word = ((hash >>> 6) & this.mask) * 2;
    const b1 = hash & 63;
    const b2 = (hash >>> this.shift) & 63;
    const w = this.words;
    const i1 = word + (b1 >>> 5);
    const m1 = 1 << (b1 & 31);
    const i2 = word + (b2 >>> 5);
    const m2 = 1 << (b2 & 31);
    // A bind's bits, stored in line (this runs once a bind).
    if (this.release) {
      if ((w[i1]! & m1) === 0) Atomics.store(w, i1, w[i1]! | m1);
      if ((w[i2]! & m2) === 0) Atomics.store(w, i2, w[i2]! | m2);
    } else {
      w[i1] = w[i1]! | m1;
      w[i2] = w[i2]! | m2;
    }
  }

  /** Sets bit g, or counts one more name on it when it is set already. */
  private set(g: number): void {
    const w = this.words;
    const i = g >>> 5;
    const m = 1 << (g & 31);
    if ((w[i]! & m) === 0) this.store(w, i, w[i]! | m);
    else this.shared!.set(g, (this.shared!.get(g) ?? 0) + 1);
  }

  /**
   * A name no chain reaches any more: its bits are cleared unless another
   * reachable name sets them. `live` gives the hashes of the names still
   * reachable, about `count` of them (read once, at the first removal, to find
   * the shared bits).
   */
  remove(hash: number, live: () => Iterable<number>, count: number): void {
    const g1 = this.bit1(hash);
    const g2 = this.bit2(hash);
    let shared = this.shared;
    if (shared === undefined) {
      // The filter holds exactly the bits of the live names and this one: find which of them the live names share.
      shared = this.shared = new Map();
      let bits = new Uint32Array(2 * Math.max(16, count));
      let n = 0;
      for (const h of live()) {
        if (n + 2 > bits.length) bits = grownTo(bits, bits.length * 2);
        bits[n++] = this.bit1(h);
        bits[n++] = this.bit2(h);
      }
      const sorted = bits.subarray(0, n).sort();
      let left1 = 0;
      let left2 = 0;
      for (let i = 0; i < sorted.length; ) {
        const g = sorted[i]!;
        let j = i + 1;
        while (j < sorted.length && sorted[j] === g) j++;
        if (j - i > 1) shared.set(g, j - i - 1);
        if (g === g1) left1 = j - i;
        if (g === g2) left2 = j - i;
        i = j;
      }
      if (left1 === 0) this.clear(g1);
      if (left2 === 0 && g2 !== g1) this.clear(g2);
      return;
    }
    this.unshare(g1);
    this.unshare(g2);
  }

  /** One name fewer sets bit g: it clears when none is left. */
  private unshare(g: number): void {
    const more = this.shared!.get(g);
    if (more === undefined) this.clear(g);
    else if (more > 1) this.shared!.set(g, more - 1);
    else this.shared!.delete(g);
  }

  private clear(g: number): void {
    const w = this.words;
    const i = g >>> 5;
    const m = 1 << (g & 31);
    if ((w[i]! & m) !== 0) this.store(w, i, w[i]! & ~m);
  }

  /** Every name was unpublished at once: the book goes (the bits stay, a superset of none). */
  reset(): void {
    this.shared = undefined;
  }
}
