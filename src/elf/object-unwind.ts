// The unwind rules of a linked object's .eh_frame, sorted by what can carry
// them: an FDE whose CIE says what the live library's own CIE says (the same
// factors, return column and initial rules) and that has no LSDA can move to
// the live library's .eh_frame, where debuggers, profilers and dlsave see it
// (a personality without an LSDA does nothing, so it may be dropped). An FDE
// with an LSDA (a C++ function with a catch or a cleanup) needs its own CIE's
// personality, so it stays in the object's .eh_frame for libgcc.
import { CFI_MACHINES, decodeCfi } from './cfi.js';
import { type EhFrame, decodeEhFrame } from './eh-frame.js';
import type { Machine } from './types.js';

export interface MovableFde {
  /** The function's address and size (pc_begin, pc_range). */
  pc: bigint;
  size: number;
  /** Its call-frame instructions' bytes, for the live library's CIE. */
  instructions: Uint8Array;
}

/** The FDEs of `bytes` (a relocated .eh_frame at `address`) that can move, and how many cannot. */
export function sortObjectFdes(machine: Machine, bytes: Uint8Array, address: bigint): { movable: MovableFde[]; staying: number } {
  const frame: EhFrame = decodeEhFrame(bytes, address);
  const m = CFI_MACHINES[machine];
  const initial = JSON.stringify(decodeCfi(m.initialInstructions, { code: m.code_alignment_factor, data: m.data_alignment_factor }));
  const compatible = new Set<number>();
  for (const cie of frame.cies) {
    const rules = JSON.stringify(cie.initialInstructions.filter((i) => i.op !== 'DW_CFA_nop'));
    if (
      cie.code_alignment_factor === m.code_alignment_factor &&
      cie.data_alignment_factor === m.data_alignment_factor &&
      cie.return_address_register === m.return_address_register &&
      !cie.signalFrame &&
      rules === initial
    )
      compatible.add(cie.offset);
  }
  const movable: MovableFde[] = [];
  let staying = 0;
  for (const fde of frame.fdes) {
    if (fde.pc_range === 0n) continue;
    if (fde.lsda !== undefined || !compatible.has(fde.cieOffset)) {
      staying++;
      continue;
    }
    const end = fde.offset + 4 + fde.length;
    movable.push({ pc: fde.pc_begin, size: Number(fde.pc_range), instructions: bytes.slice(fde.instructionsAt, end) });
  }
  return { movable, staying };
}
