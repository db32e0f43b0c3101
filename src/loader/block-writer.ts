// Writing into a live library's blocks: through the writable alias, with the
// check that code shows at its executable address (a copy-on-write page of
// ld.so's text mapping would hide it) and, on aarch64, the instruction cache
// brought in line.
import { trapFill } from './block-states.js';
import type { ArenaName } from './block-states.js';
import { DlbindError } from './errors.js';
import { syncInstructionCache } from './icache.js';
import { getLibc } from './libc.js';
import type { LiveObject } from './live-object.js';

/** Owns the writes into a live object's blocks, and the read-only view of its text that checks them. */
export class BlockWriter {
  /** The text as ld.so mapped it (read+execute): only ever read, to check that writes show there. */
  private loadedText: Uint8Array | undefined;

  constructor(
    private readonly object: LiveObject,
    private readonly arch: 'x86_64' | 'aarch64',
    /** The object offsets of .text's start and end. */
    private readonly textStart: number,
    private readonly textEnd: number,
  ) {}

  /** Copies `data` to object offset `at` in `arena`; ELIBC when code written does not show at its executable address. */
  write(arena: ArenaName, at: number, data: Uint8Array): void {
    const o = this.object;
    o.mem.set(data, at);
    if (arena === 'text') {
      if (this.arch === 'aarch64') syncInstructionCache(o, at, data.length);
      if (!this.textShows(at, data)) {
        o.refreshText(at, data.length);
        if (!this.textShows(at, data))
          throw new DlbindError('ELIBC', `code written at 0x${(o.loadBase + BigInt(at)).toString(16)} does not show at its executable address`);
      }
    }
  }

  /** Overwrites a freed block: text with a trap, data with zeros. */
  overwrite(arena: ArenaName, at: number, length: number): void {
    this.write(arena, at, arena === 'text' ? trapFill(this.arch, length) : new Uint8Array(length));
  }

  /** Whether the executable mapping shows `data` at `objectOffset` (it does unless the page was copied on write). */
  private textShows(objectOffset: number, data: Uint8Array): boolean {
    const from = objectOffset - this.textStart;
    if (this.loadedText === undefined || this.loadedText.length < from + data.length) {
      // A view of the text written so far, grown by doubling: V8 counts a view's whole length as external memory.
      let n = Math.max(1 << 16, this.loadedText?.length ?? 0);
      while (n < from + data.length) n *= 2;
      n = Math.min(n, this.textEnd - this.textStart);
      this.loadedText = new Uint8Array(getLibc().view(this.object.loadBase + BigInt(this.textStart), n));
    }
    const loaded = this.loadedText;
    for (let i = 0; i < data.length; i++) if (loaded[from + i] !== data[i]) return false;
    return true;
  }
}
