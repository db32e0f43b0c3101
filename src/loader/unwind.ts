// The in-place unwind tables of a live library: .eh_frame and the search
// table of .eh_frame_hdr, patched through the writable alias while other
// threads unwind. glibc's _dl_find_object records the object's
// PT_GNU_EH_FRAME address once, at dlopen; libgcc then reads the header and
// its table afresh at every frame it unwinds (unwind-dw2-fde-dip.c,
// find_fde_tail), so no __register_frame is ever called.
//
// What libgcc reads, in order: version, eh_frame_ptr_enc, eh_frame_ptr,
// fde_count_enc and table_enc (only datarel|sdata4 gives a binary search;
// anything else sends it to a linear scan of .eh_frame from eh_frame_ptr to
// the zero terminator), fde_count (0: no answer at all, no scan), then
// table[0], table[count-1], the search's table[mid] and table[mid+1], then
// table[mid].fde, that FDE's pc_range, and table[mid].initial_loc again for
// the function's start. Nothing is validated or cached.
//
// The update protocol, so that a reader on another thread finds the old or
// the new rules for every function not being added or removed, and never
// half of an entry:
//
// * Table entries are 8 bytes, 8-byte aligned (the header sits 4 past a
//   multiple of 8), each written with one 64-bit store.
// * Every live function owns one table slot, its home, for its whole life.
//   The slots between its predecessor's home and its own hold copies of its
//   own entry ("fillers"); the slot count-1 holds a sentinel (the end of the
//   text, an FDE of length 0) and the fillers before it copy the sentinel. The
//   table is therefore always sorted, and a binary search for a pc inside F
//   always ends on F's home: the slot after a home never holds an address at
//   or below F's. So a home never changes while its function lives, and
//   nothing a reader stands on changes under it.
// * Adding X takes a filler between its neighbours' homes as X's home and
//   turns the fillers from the predecessor's home up to it into copies of X,
//   in ascending order; no reader of another function ever lands on them.
//   Appending past the last function first grows the table by two sentinel
//   copies written beyond the count, then stores the count (one aligned 4-byte
//   store, release-ordered).
// * Removing X turns its home and its fillers into copies of its successor's
//   entry, in descending order. Replacing X's rules repoints its slots.
// * When neighbours' homes are adjacent there is no filler to take. The table
//   is then switched off for a while: table_enc is set to DW_EH_PE_omit (one
//   byte), so new lookups scan .eh_frame linearly (always complete, see
//   below); after REBUILD_GRACE_MS the table is written afresh with spare slots
//   everywhere, its count stored, and table_enc set back. Only a lookup that
//   read the old table_enc and then stalled for longer than that inside the
//   table could see the rewrite.
// * .eh_frame is a list of records that only grows at its end: a new FDE is
//   written past the zero terminator with a new terminator after it, and the
//   old terminator's word becomes its length (one aligned store). A removed
//   FDE stays in the list, dead: pc_range 0 first, then pc_begin pointing at
//   the end of the text, where no code runs (so a torn read of the two words
//   matches nothing). Dead records are reused for an FDE of the same size only
//   after QUARANTINE frees and QUARANTINE_MS, written while dead, with pc_begin
//   and then pc_range stored last.
import { CFI_MACHINES, decodeCfi, framePointerCfi } from '../elf/cfi.js';
import { EH_FRAME_HDR_ENTRY_SIZE, EH_FRAME_HDR_SIZE, EH_FRAME_HDR_TABLE_ENC, rel, writeEhFrameHdrHeader } from '../elf/eh-frame-hdr.js';
import { DW_EH_PE_omit, cieBytes, fdeBytes, fdeSize } from '../elf/eh-frame.js';
import { ElfFormatError } from '../elf/errors.js';
import type { Placement } from '../elf/layout.js';
import type { Machine } from '../elf/types.js';
import type { ObjectLayout } from '../elf/writer.js';
import { SHT_PROGBITS } from '../elf/constants.js';
import { DlbindError } from './errors.js';
import { shSizeOffset } from './section-size.js';

const QUARANTINE = 64;
const QUARANTINE_MS = 50;
/** How long the search table stays off before it is rewritten (see the protocol above). */
export const REBUILD_GRACE_MS = 50;

/** Table slots reserved per function: its home and one filler, so that most insertions find room. */
export const UNWIND_SLOTS_PER_FUNCTION = 2;
/** .eh_frame bytes reserved per function (an FDE with up to 39 bytes of rules takes 56). */
export const EH_FRAME_BYTES_PER_FUNCTION = 64;

/** .eh_frame_hdr and .eh_frame sizes a zygote reserves for `maxFunctions` functions with unwind rules. */
export function unwindCapacity(maxFunctions: number): { ehFrameHdr: number; ehFrame: number } {
  return {
    ehFrameHdr: EH_FRAME_HDR_SIZE + (UNWIND_SLOTS_PER_FUNCTION * maxFunctions + 2) * EH_FRAME_HDR_ENTRY_SIZE,
    ehFrame: 4096 + maxFunctions * EH_FRAME_BYTES_PER_FUNCTION,
  };
}

/** Writes the empty tables into a zygote: the CIE, the sentinel FDE, the terminator, and a header whose table holds the sentinel. */
export function writeInitialUnwindTables(out: Uint8Array, layout: ObjectLayout): void {
  const hdr = layout.ehFrameHdr;
  const eh = layout.ehFrame;
  if (hdr === undefined || eh === undefined) return;
  const cie = cieBytes(layout.machine);
  out.set(cie, eh.offset);
  const sentinelAt = eh.addr + cie.length;
  const sentinel = fdeBytes(sentinelAt, eh.addr, sentinelAddress(layout), 0, new Uint8Array(0));
  out.set(sentinel, eh.offset + cie.length);
  writeEhFrameHdrHeader(out.subarray(hdr.offset), hdr.addr, eh.addr, 1);
  new BigInt64Array(out.buffer, out.byteOffset + hdr.offset + EH_FRAME_HDR_SIZE, 1)[0] = sentinelEntry(layout);
  // .eh_frame's sh_size as a new table publishes it (CIE, sentinel, terminator): a new library need not store it.
  const sizeAt = ehFrameSizeOffset(out, layout);
  if (sizeAt !== undefined) new DataView(out.buffer, out.byteOffset + sizeAt, 8).setBigUint64(0, BigInt(initialEhEnd(layout) + 4 - eh.offset), true);
}

/** The search table's sentinel entry (the end of the text, the sentinel FDE) as one 64-bit table word. */
function sentinelEntry(layout: ObjectLayout): bigint {
  const hdr = layout.ehFrameHdr!;
  const eh = layout.ehFrame!;
  const pc = BigInt(rel(sentinelAddress(layout), hdr.addr) >>> 0);
  const fde = BigInt(rel(eh.addr + cieLength(layout.machine), hdr.addr) >>> 0);
  return BigInt.asIntN(64, (fde << 32n) | pc);
}

const cieLengths = new Map<Machine, number>();
function cieLength(machine: Machine): number {
  let n = cieLengths.get(machine);
  if (n === undefined) cieLengths.set(machine, (n = cieBytes(machine).length));
  return n;
}

/** Where .eh_frame's terminator sits in an empty table: after the CIE and the sentinel FDE. */
function initialEhEnd(layout: ObjectLayout): number {
  return layout.ehFrame!.offset + cieLength(layout.machine) + fdeSize(0);
}

/** The object offset of .eh_frame's sh_size field. */
function ehFrameSizeOffset(mem: Uint8Array, layout: ObjectLayout): number | undefined {
  return shSizeOffset(mem, layout, layout.ehFrame!, SHT_PROGBITS);
}

/** Where dead FDEs and the sentinel point: the end of the text, where no code is. */
function sentinelAddress(layout: ObjectLayout): number {
  return layout.content.text.addr + layout.content.text.size;
}

/** The call-frame instructions of `unwind`, checked. Throws DlbindError EINVAL. */
const presets = new Map<Machine, Uint8Array>();

export function checkUnwind(machine: Machine, unwind: unknown): Uint8Array {
  if (unwind === 'frame-pointer') {
    let p = presets.get(machine);
    if (p === undefined) presets.set(machine, (p = framePointerCfi(machine)));
    return p;
  }
  if (!(unwind instanceof Uint8Array)) throw new DlbindError('EINVAL', `option unwind must be 'frame-pointer' or a Uint8Array of call-frame instructions`);
  const m = CFI_MACHINES[machine];
  try {
    // libgcc aborts on an instruction it does not know: only well-formed rules go in.
    decodeCfi(unwind, { code: m.code_alignment_factor, data: m.data_alignment_factor });
  } catch (err) {
    if (err instanceof ElfFormatError) throw new DlbindError('EINVAL', `option unwind: ${err.what} at byte ${err.offset}`);
    throw err;
  }
  if (unwind.length > 4096) throw new DlbindError('EINVAL', `option unwind: ${unwind.length} bytes of rules is more than 4096`);
  return unwind.slice();
}

interface Fn {
  /** Object offset of the first byte. */
  pc: number;
  size: number;
  /** Object offset of its FDE record. */
  fde: number;
  instructions: Uint8Array;
  home: number;
}

export class LiveUnwindTable {
  private readonly hdr: Placement;
  private readonly eh: Placement;
  /** The search table's slots, as 64-bit words. */
  private readonly table: BigInt64Array;
  private readonly hdrBytes: Uint8Array;
  private readonly countWord: Uint32Array;
  private readonly ehWords: Uint32Array;
  private readonly mem: Uint8Array;
  private readonly capacitySlots: number;
  private readonly sentinel: bigint;
  private readonly far: number;
  private readonly cieAt: number;
  /** Live functions sorted by pc. */
  private readonly fns: Fn[] = [];
  private count = 1;
  /** Offset (in the object) of the terminator word: where the next appended FDE goes. */
  private ehEnd: number;
  private readonly deadRecords = new Map<number, { at: number; time: number; serial: number }[]>();
  private frees = 0;
  private tableOff = false;
  /** How often the table was switched off and rewritten (for tests and stats). */
  rebuilds = 0;
  private offSince = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Where .eh_frame's sh_size lives in the section header table, to keep it at the used length for debuggers. */
  private readonly shSizeAt: number | undefined;
  private readonly weakMemoryOrder = process.arch === 'arm64' || process.env.DLBIND_FORCE_RELEASE_STORES === '1';

  constructor(mem: Uint8Array, layout: ObjectLayout) {
    const h = layout.ehFrameHdr;
    const e = layout.ehFrame;
    // Offsets double as addresses below: the zygote places both at file offset == address.
    if (h === undefined || e === undefined || h.offset !== h.addr || e.offset !== e.addr) throw new Error('a live library needs reserved unwind tables');
    this.mem = mem;
    this.hdr = h;
    this.eh = e;
    this.hdrBytes = mem.subarray(this.hdr.offset, this.hdr.offset + 4);
    this.countWord = new Uint32Array(mem.buffer, mem.byteOffset + this.hdr.offset + 8, 1);
    this.capacitySlots = (this.hdr.size - EH_FRAME_HDR_SIZE) / EH_FRAME_HDR_ENTRY_SIZE;
    this.table = new BigInt64Array(mem.buffer, mem.byteOffset + this.hdr.offset + EH_FRAME_HDR_SIZE, this.capacitySlots);
    this.ehWords = new Uint32Array(mem.buffer, mem.byteOffset + this.eh.offset, this.eh.size / 4);
    this.far = sentinelAddress(layout);
    this.cieAt = this.eh.addr;
    // From the layout, not read back: creating a library touches none of its pages.
    this.sentinel = sentinelEntry(layout);
    this.ehEnd = initialEhEnd(layout);
    // sh_size already says so: the zygote holds it (writeInitialUnwindTables).
    this.shSizeAt = ehFrameSizeOffset(mem, layout);
  }

  /** Undoes a `set` (restores the rules it replaced, or removes the function's). */
  undo(pc: number, previous: { size: number; instructions: Uint8Array } | undefined): void {
    if (previous === undefined) this.removeRange(pc, pc + 1);
    else this.set(pc, previous.size, previous.instructions);
  }

  /** The size and rules of the function starting at `pc`, if it has rules. */
  entryAt(pc: number): { size: number; instructions: Uint8Array } | undefined {
    const i = this.find(pc);
    return i >= 0 ? { size: this.fns[i]!.size, instructions: this.fns[i]!.instructions } : undefined;
  }

  /** Functions with unwind rules. */
  get size(): number {
    return this.fns.length;
  }

  /** The rules of the function starting at `pc` (an object offset), if it has some. */
  rulesAt(pc: number): Uint8Array | undefined {
    const i = this.find(pc);
    return i >= 0 ? this.fns[i]!.instructions : undefined;
  }

  /**
   * Gives the function [pc, pc+size) these rules (object offsets). A function
   * already there gets the new rules in place of the old.
   */
  set(pc: number, size: number, instructions: Uint8Array): void {
    const now = performance.now();
    this.maybeRebuild(now);
    const k = this.lowerBound(pc);
    const same = k < this.fns.length && this.fns[k]!.pc === pc ? this.fns[k]! : undefined;
    const prev = this.fns[k - 1];
    const next = same === undefined ? this.fns[k] : this.fns[k + 1];
    if ((prev !== undefined && prev.pc + prev.size > pc) || (next !== undefined && pc + size > next.pc)) {
      const other = prev !== undefined && prev.pc + prev.size > pc ? prev : next!;
      throw new DlbindError('EEXIST', `unwind rules for [0x${pc.toString(16)}, +${size}) overlap those of the function at offset 0x${other.pc.toString(16)}`);
    }
    const fde = this.writeFde(pc, size, instructions, now);
    if (same !== undefined) {
      const old = same.fde;
      same.fde = fde;
      same.size = size;
      same.instructions = instructions;
      if (!this.tableOff) this.fillHome(k);
      this.killFde(old, now);
      return;
    }
    if (this.fns.length + 2 >= this.capacitySlots) {
      this.killFde(fde, now);
      throw new DlbindError('ENOSPACE', `no room left in .eh_frame_hdr for another function with unwind rules (${this.fns.length} have some)`);
    }
    const fn: Fn = { pc, size, fde, instructions, home: -1 };
    this.fns.splice(k, 0, fn);
    if (this.tableOff) return;
    const p = k > 0 ? this.fns[k - 1]!.home : -1;
    let q = k + 1 < this.fns.length ? this.fns[k + 1]!.home : this.count - 1;
    if (q - p < 2 && k + 1 === this.fns.length && this.count + 2 <= this.capacitySlots) {
      this.store(this.count, this.sentinel);
      this.store(this.count + 1, this.sentinel);
      this.publishCount(this.count + 2);
      q = this.count - 1;
    }
    if (q - p < 2) {
      this.switchTableOff(now);
      return;
    }
    fn.home = p + ((q - p + 1) >> 1);
    this.fillHome(k);
  }

  /** Removes the rules of every function starting in [start, end) (object offsets). Returns how many. */
  removeRange(start: number, end: number): number {
    const now = performance.now();
    const k = this.lowerBound(start);
    let j = k;
    while (j < this.fns.length && this.fns[j]!.pc < end) j++;
    if (j > k && !this.tableOff) {
      // The functions k … j-1 removed one at a time from the last to the first, as
      // the protocol says, turn the slots from the last one's home down to the
      // predecessor's into copies of the successor's entry, in descending order:
      // one store a slot, however many functions the range holds (removing them
      // first to last would rewrite the growing stretch once per function).
      const p = k > 0 ? this.fns[k - 1]!.home : -1;
      const succ = j < this.fns.length ? this.entry(this.fns[j]!) : this.sentinel;
      for (let i = this.fns[j - 1]!.home; i > p; i--) this.store(i, succ);
    }
    const removed = this.fns.splice(k, j - k);
    for (const fn of removed) this.killFde(fn.fde, now);
    this.maybeRebuild(now);
    return removed.length;
  }

  /** Stops the rebuild timer (the library is going away). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private find(pc: number): number {
    const k = this.lowerBound(pc);
    return k < this.fns.length && this.fns[k]!.pc === pc ? k : -1;
  }

  private lowerBound(pc: number): number {
    let lo = 0;
    let hi = this.fns.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.fns[mid]!.pc < pc) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private entry(fn: Fn): bigint {
    const base = this.hdr.addr;
    return BigInt.asIntN(64, (BigInt(rel(fn.fde, base)) << 32n) | BigInt(rel(fn.pc, base) >>> 0));
  }

  /** Writes the function's entry into its home and the fillers before it, in ascending order. */
  private fillHome(k: number): void {
    const fn = this.fns[k]!;
    const p = k > 0 ? this.fns[k - 1]!.home : -1;
    const e = this.entry(fn);
    for (let i = p + 1; i <= fn.home; i++) this.store(i, e);
  }

  private store(slot: number, value: bigint): void {
    Atomics.store(this.table, slot, value);
  }

  private publishCount(n: number): void {
    this.count = n;
    // Atomics.store is a release store on aarch64: the slots written before are seen first.
    if (this.weakMemoryOrder) Atomics.store(this.countWord, 0, n);
    else this.countWord[0] = n;
  }

  private switchTableOff(now: number): void {
    this.tableOff = true;
    this.rebuilds++;
    this.offSince = now;
    Atomics.store(this.hdrBytes, 3, DW_EH_PE_omit);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.maybeRebuild(performance.now());
    }, REBUILD_GRACE_MS + 1);
    this.timer.unref?.();
  }

  /** Rewrites the table with a filler before every function, once the grace period has passed, and switches it on. */
  private maybeRebuild(now: number): void {
    if (!this.tableOff || now - this.offSince < REBUILD_GRACE_MS) return;
    const n = this.fns.length;
    const spare = Math.floor((this.capacitySlots - 1) / Math.max(1, n));
    const step = Math.max(1, Math.min(UNWIND_SLOTS_PER_FUNCTION, spare));
    let slot = 0;
    for (const fn of this.fns) {
      fn.home = slot + step - 1;
      const e = this.entry(fn);
      for (; slot <= fn.home; slot++) this.store(slot, e);
    }
    this.store(slot, this.sentinel);
    this.publishCount(slot + 1);
    this.tableOff = false;
    Atomics.store(this.hdrBytes, 3, EH_FRAME_HDR_TABLE_ENC);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes an FDE record (reusing a dead one of the same size when its quarantine is over). Returns its object offset. */
  private writeFde(pc: number, size: number, instructions: Uint8Array, now: number): number {
    const length = fdeSize(instructions.length);
    const reuse = this.takeDead(length, now);
    if (reuse !== undefined) {
      const bytes = fdeBytes(reuse, this.cieAt, pc, size, instructions);
      // The record is dead (pc_range 0): its rules, then pc_begin, then pc_range publish it.
      this.mem.set(bytes.subarray(16), reuse + 16);
      const w = (reuse - this.eh.offset) / 4;
      Atomics.store(this.ehWords, w + 2, new DataView(bytes.buffer).getUint32(8, true));
      Atomics.store(this.ehWords, w + 3, size);
      return reuse;
    }
    const at = this.ehEnd;
    if (at + length + 4 > this.eh.offset + this.eh.size) {
      throw new DlbindError('ENOSPACE', `no room left in .eh_frame (${this.eh.size} bytes; raise maxSymbols, which sizes it)`);
    }
    const bytes = fdeBytes(at, this.cieAt, pc, size, instructions);
    this.mem.set(bytes.subarray(4), at + 4);
    this.ehWords[(at + length - this.eh.offset) / 4] = 0;
    // The terminator's word becomes the record's length: one aligned store publishes it.
    Atomics.store(this.ehWords, (at - this.eh.offset) / 4, length - 4);
    this.ehEnd = at + length;
    this.publishSize();
    return at;
  }

  private killFde(at: number, now: number): void {
    const w = (at - this.eh.offset) / 4;
    Atomics.store(this.ehWords, w + 3, 0);
    Atomics.store(this.ehWords, w + 2, rel(this.far, at + 8) >>> 0);
    const length = this.ehWords[w]! + 4;
    let q = this.deadRecords.get(length);
    if (q === undefined) this.deadRecords.set(length, (q = []));
    q.push({ at, time: now, serial: ++this.frees });
  }

  private takeDead(length: number, now: number): number | undefined {
    const q = this.deadRecords.get(length);
    if (q === undefined || q.length === 0) return undefined;
    const oldest = q[0]!;
    const roomLeft = this.eh.offset + this.eh.size - this.ehEnd - 4 >= length;
    if (roomLeft && (now - oldest.time < QUARANTINE_MS || this.frees - oldest.serial < QUARANTINE)) return undefined;
    q.shift();
    return oldest.at;
  }

  private publishSize(): void {
    if (this.shSizeAt === undefined) return;
    // The section header says how much of .eh_frame is in use (terminator included), for debuggers reading the file.
    this.shSize ??= new DataView(this.mem.buffer, this.mem.byteOffset + this.shSizeAt, 8);
    this.shSize.setBigUint64(0, BigInt(this.ehEnd + 4 - this.eh.offset), true);
  }
  private shSize: DataView | undefined;
}
