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
//   no other reachable name uses: a count per bit says so. Words are only ever
//   rewritten in place (their place is fixed at load), one 32-bit half at a
//   time, from a superset of the needed bits to a smaller superset of them, so
//   a reader sees the old half or the new one and either suffices.
// * Binds and unbinds of one library run on its thread, one at a time, so no
//   bit being set is lost to a clear.
//
// The counts (one byte per bit, 8 MiB of address space at the default
// capacity, touched only where names fall) are made at the first unbind, from
// the names bound then: a table that never unbinds pays nothing. A count that
// reaches 255 sticks there and its bit stays set: a superset, never wrong.
export class LiveBloom {
  private counts: Uint8Array | undefined;

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

  /** Sets the bits of a name about to be published. */
  add(hash: number): void {
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
    const counts = this.counts;
    if (counts !== undefined) {
      if (counts[word * 32 + b1]! < 255) counts[word * 32 + b1]!++;
      if (counts[word * 32 + b2]! < 255) counts[word * 32 + b2]!++;
    }
  }

  /**
   * A name no chain reaches any more: its bits are cleared unless another
   * reachable name sets them. `live` gives the hashes of the names still
   * reachable (read once, at the first removal, to make the counts).
   */
  remove(hash: number, live: () => Iterable<number>): void {
    const word = ((hash >>> 6) & this.mask) * 2;
    const b1 = hash & 63;
    const b2 = (hash >>> this.shift) & 63;
    let counts = this.counts;
    if (counts === undefined) {
      counts = this.counts = new Uint8Array(this.words.length * 32);
      for (const h of live()) {
        const at = ((h >>> 6) & this.mask) * 64;
        const c1 = at + (h & 63);
        const c2 = at + ((h >>> this.shift) & 63);
        if (counts[c1]! < 255) counts[c1]!++;
        if (counts[c2]! < 255) counts[c2]!++;
      }
    } else {
      for (const c of [word * 32 + b1, word * 32 + b2]) if (counts[c]! > 0 && counts[c]! < 255) counts[c]!--;
    }
    for (const b of [b1, b2]) {
      if (counts[word * 32 + b] !== 0) continue;
      const i = word + (b >>> 5);
      const m = 1 << (b & 31);
      const w = this.words;
      if ((w[i]! & m) !== 0) this.store(w, i, w[i]! & ~m);
    }
  }

  /** Every name was unpublished at once: the counts go (the bits stay, a superset of none). */
  reset(): void {
    this.counts = undefined;
  }
}
