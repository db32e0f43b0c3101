/**
 * A set of names with their GNU hashes, in one Int32Array (open addressing):
 * for a million symbols it costs a fraction of a Map<string, number>, and the
 * hash it needs is the one the GNU hash table needs anyway.
 */
export class NameIndex {
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(
    capacity: number,
    private readonly names: (i: number) => string,
    private readonly hashes: Uint32Array,
  ) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  /** Adds item `i`; returns the item already holding that name, or -1 if the name was new. */
  insert(i: number): number {
    const name = this.names(i);
    let at = this.hashes[i]! & this.mask;
    for (;;) {
      const j = this.table[at]!;
      if (j < 0) {
        this.table[at] = i;
        return -1;
      }
      if (this.hashes[j] === this.hashes[i] && this.names(j) === name) return j;
      at = (at + 1) & this.mask;
    }
  }

  /** The item holding `name` (whose GNU hash is `hash`), or -1. */
  find(name: string, hash: number): number {
    let at = hash & this.mask;
    for (;;) {
      const j = this.table[at]!;
      if (j < 0) return -1;
      if (this.hashes[j] === hash && this.names(j) === name) return j;
      at = (at + 1) & this.mask;
    }
  }
}
