// The procedure linkage table and its GOT (.plt and .got.plt), in the form
// GNU ld writes them: PLT0 (the lazy resolver's trampoline) then one stub per
// imported function, and .got.plt's three reserved words then one slot per
// stub. With BIND_NOW ld.so fills every slot at load and PLT0 never runs;
// without it the same stubs bind lazily, so either mode works from one layout.
import { encodeAdrp, encodeLo12 } from './relocations.js';
import type { Machine } from './types.js';

export interface PltShape {
  /** Bytes of PLT0 and of each stub. */
  headerSize: number;
  entrySize: number;
  align: number;
}

export const PLT_SHAPE: Record<Machine, PltShape> = {
  x86_64: { headerSize: 16, entrySize: 16, align: 16 },
  aarch64: { headerSize: 32, entrySize: 16, align: 16 },
};

/** Words of .got.plt reserved for ld.so: _DYNAMIC's address (x86_64), the link_map, the resolver. */
export const GOT_PLT_RESERVED = 3;

export function pltSize(machine: Machine, count: number): number {
  return count === 0 ? 0 : PLT_SHAPE[machine].headerSize + count * PLT_SHAPE[machine].entrySize;
}

export function gotPltSize(count: number): number {
  return count === 0 ? 0 : (GOT_PLT_RESERVED + count) * 8;
}

/** Address of stub `k` (0-based, PLT0 not counted). */
export function pltEntryAddr(machine: Machine, plt: bigint, k: number): bigint {
  return plt + BigInt(PLT_SHAPE[machine].headerSize + k * PLT_SHAPE[machine].entrySize);
}

/** Address of the .got.plt slot of stub `k`. */
export function gotPltSlotAddr(gotPlt: bigint, k: number): bigint {
  return gotPlt + BigInt((GOT_PLT_RESERVED + k) * 8);
}

const X86_NOP4 = [0x0f, 0x1f, 0x40, 0x00];

/**
 * Writes PLT0 and `count` stubs at `view[offset]` (address `plt`), and the initial
 * .got.plt words at `view[gotOffset]` (address `gotPlt`). `dynamicAddr` is _DYNAMIC's
 * link-time address, which x86_64 keeps in the first reserved word.
 */
export function writePltAndGot(
  machine: Machine,
  view: DataView,
  offset: number,
  plt: bigint,
  gotOffset: number,
  gotPlt: bigint,
  count: number,
  dynamicAddr: bigint,
): void {
  if (count === 0) return;
  const rel = (target: bigint, next: bigint) => Number(target - next);
  if (machine === 'x86_64') {
    // PLT0: push GOT[1]; jmp *GOT[2]
    view.setUint8(offset, 0xff);
    view.setUint8(offset + 1, 0x35);
    view.setInt32(offset + 2, rel(gotPlt + 8n, plt + 6n), true);
    view.setUint8(offset + 6, 0xff);
    view.setUint8(offset + 7, 0x25);
    view.setInt32(offset + 8, rel(gotPlt + 16n, plt + 12n), true);
    X86_NOP4.forEach((b, i) => view.setUint8(offset + 12 + i, b));
    view.setBigUint64(gotOffset, dynamicAddr, true);
    for (let k = 0; k < count; k++) {
      const at = offset + 16 + k * 16;
      const p = pltEntryAddr(machine, plt, k);
      // jmp *slot(%rip); push $k; jmp PLT0
      view.setUint8(at, 0xff);
      view.setUint8(at + 1, 0x25);
      view.setInt32(at + 2, rel(gotPltSlotAddr(gotPlt, k), p + 6n), true);
      view.setUint8(at + 6, 0x68);
      view.setUint32(at + 7, k, true);
      view.setUint8(at + 11, 0xe9);
      view.setInt32(at + 12, rel(plt, p + 16n), true);
      // Until bound, the slot leads back into its stub's push (lazy binding).
      view.setBigUint64(gotOffset + (GOT_PLT_RESERVED + k) * 8, p + 6n, true);
    }
    return;
  }
  // aarch64 PLT0: stp x16, x30, [sp, #-16]!; adrp x16, GOT[2]; ldr x17, [x16, :lo12:GOT[2]]; add x16, x16, :lo12:GOT[2]; br x17; nop x3
  const got2 = gotPlt + 16n;
  const header = [
    0xa9bf7bf0,
    encodeAdrp(0x90000010, plt + 4n, got2),
    encodeLo12(0xf9400211, got2, 8),
    encodeLo12(0x91000210, got2, 1),
    0xd61f0220,
    0xd503201f,
    0xd503201f,
    0xd503201f,
  ];
  header.forEach((insn, i) => view.setUint32(offset + i * 4, insn, true));
  for (let k = 0; k < count; k++) {
    const at = offset + 32 + k * 16;
    const p = pltEntryAddr(machine, plt, k);
    const slot = gotPltSlotAddr(gotPlt, k);
    // adrp x16, slot; ldr x17, [x16, :lo12:slot]; add x16, x16, :lo12:slot; br x17
    const stub = [encodeAdrp(0x90000010, p, slot), encodeLo12(0xf9400211, slot, 8), encodeLo12(0x91000210, slot, 1), 0xd61f0220];
    stub.forEach((insn, i) => view.setUint32(at + i * 4, insn, true));
    view.setBigUint64(gotOffset + (GOT_PLT_RESERVED + k) * 8, plt, true);
  }
}
