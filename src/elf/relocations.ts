// Relocations the writer resolves itself (PC-relative fields in code, filled
// at build time) and the dynamic relocation types it leaves to ld.so, per
// machine. Instruction fields are patched in place: the opcode and registers
// the caller wrote stay, only the immediate changes, and a word that is not
// the expected instruction is an error rather than silently corrupted code.
import {
  R_AARCH64_ABS64,
  R_AARCH64_GLOB_DAT,
  R_AARCH64_JUMP_SLOT,
  R_AARCH64_RELATIVE,
  R_X86_64_64,
  R_X86_64_GLOB_DAT,
  R_X86_64_JUMP_SLOT,
  R_X86_64_RELATIVE,
} from './constants.js';
import { ElfBuildError } from './errors.js';
import type { Machine } from './types.js';

/** The dynamic relocation types a shared object built by dlbind uses. */
export interface DynamicRelocationTypes {
  relative: number;
  /** A word holding a symbol's address (+ addend). */
  abs64: number;
  /** A GOT slot holding a symbol's address. */
  globDat: number;
  /** A PLT's GOT slot. */
  jumpSlot: number;
}

export const DYNAMIC_RELOCATIONS: Record<Machine, DynamicRelocationTypes> = {
  x86_64: { relative: R_X86_64_RELATIVE, abs64: R_X86_64_64, globDat: R_X86_64_GLOB_DAT, jumpSlot: R_X86_64_JUMP_SLOT },
  aarch64: { relative: R_AARCH64_RELATIVE, abs64: R_AARCH64_ABS64, globDat: R_AARCH64_GLOB_DAT, jumpSlot: R_AARCH64_JUMP_SLOT },
};

/**
 * How a code reference is encoded:
 * - 'rel32': a 32-bit little-endian S + A - P (x86_64 call/jmp/lea/mov rip-relative; aarch64 PREL32 data);
 * - 'call26': an aarch64 `bl`/`b` whose imm26 becomes (S + A - P) / 4;
 * - 'adrp_ldr': an aarch64 `adrp` and, 4 bytes on, a 64-bit `ldr` from its page (a GOT load);
 * - 'adrp_add': an aarch64 `adrp` and, 4 bytes on, an `add` of the low 12 bits (an address).
 */
export type ReferenceEncoding = 'rel32' | 'call26' | 'adrp_ldr' | 'adrp_add';
export const REFERENCE_ENCODINGS: readonly ReferenceEncoding[] = ['rel32', 'call26', 'adrp_ldr', 'adrp_add'];

/** Bytes an encoding patches, from the reference's offset. */
export function referenceSize(encoding: ReferenceEncoding): number {
  return encoding === 'rel32' || encoding === 'call26' ? 4 : 8;
}

export const AARCH64_ADRP_MASK = 0x9f000000;
export const AARCH64_ADRP = 0x90000000;
export const AARCH64_LDR64_MASK = 0xffc00000;
export const AARCH64_LDR64 = 0xf9400000;
export const AARCH64_ADD64_MASK = 0xffc00000;
export const AARCH64_ADD64 = 0x91000000;
export const AARCH64_BL_MASK = 0x7c000000;
export const AARCH64_BL = 0x14000000; // b and bl differ only in bit 31

const page = (x: bigint): bigint => x & ~0xfffn;

/** `insn` with adrp's 21-bit page delta set to page(target) - page(place). */
export function encodeAdrp(insn: number, place: bigint, target: bigint, field = 'references'): number {
  const pages = (page(target) - page(place)) >> 12n;
  if (pages < -(1n << 20n) || pages >= 1n << 20n) throw new ElfBuildError(`adrp target 0x${target.toString(16)} is more than 4 GiB away`, field);
  const imm = Number(BigInt.asUintN(21, pages));
  return ((insn & ~0x60ffffe0) | ((imm & 3) << 29) | (((imm >>> 2) & 0x7ffff) << 5)) >>> 0;
}

/** `insn` (ldr x, [x, #imm] or add x, x, #imm) with its 12-bit immediate set from the target's low bits. */
export function encodeLo12(insn: number, target: bigint, scale: number, field = 'references'): number {
  const lo = Number(target & 0xfffn);
  if (lo % scale !== 0) throw new ElfBuildError(`target 0x${target.toString(16)} is not ${scale}-byte aligned for the load`, field);
  return ((insn & ~(0xfff << 10)) | ((lo / scale) << 10)) >>> 0;
}

/** `insn` (b or bl) with imm26 set to reach the target. */
export function encodeCall26(insn: number, place: bigint, target: bigint, field = 'references'): number {
  const delta = target - place;
  if (delta % 4n !== 0n || delta < -(1n << 27n) || delta >= 1n << 27n)
    throw new ElfBuildError(`branch target 0x${target.toString(16)} is out of bl's ±128 MiB range`, field);
  return ((insn & 0xfc000000) | (Number(BigInt.asUintN(26, delta >> 2n)) & 0x3ffffff)) >>> 0;
}

function expectInsn(insn: number, mask: number, value: number, what: string, field: string): void {
  if ((insn & mask) >>> 0 !== value) throw new ElfBuildError(`expected ${what} here, found 0x${insn.toString(16).padStart(8, '0')}`, field);
}

/**
 * Resolves one code reference: `view` is the output, `offset` the field's file offset,
 * `place` its address (P), `target` the address referred to plus its addend (S + A).
 */
export function applyReference(view: DataView, offset: number, place: bigint, target: bigint, encoding: ReferenceEncoding, field = 'references'): void {
  switch (encoding) {
    case 'rel32': {
      const v = target - place;
      if (v < -(1n << 31n) || v >= 1n << 31n) throw new ElfBuildError(`target 0x${target.toString(16)} is out of rel32 range`, field);
      view.setInt32(offset, Number(v), true);
      return;
    }
    case 'call26': {
      const insn = view.getUint32(offset, true);
      expectInsn(insn, AARCH64_BL_MASK, AARCH64_BL, 'an aarch64 b or bl', field);
      view.setUint32(offset, encodeCall26(insn, place, target, field), true);
      return;
    }
    case 'adrp_ldr':
    case 'adrp_add': {
      const adrp = view.getUint32(offset, true);
      expectInsn(adrp, AARCH64_ADRP_MASK, AARCH64_ADRP, 'an aarch64 adrp', field);
      const second = view.getUint32(offset + 4, true);
      if (encoding === 'adrp_ldr') expectInsn(second, AARCH64_LDR64_MASK, AARCH64_LDR64, 'an aarch64 64-bit ldr (unsigned offset)', field);
      else expectInsn(second, AARCH64_ADD64_MASK, AARCH64_ADD64, 'an aarch64 64-bit add (immediate)', field);
      view.setUint32(offset, encodeAdrp(adrp, place, target, field), true);
      view.setUint32(offset + 4, encodeLo12(second, target, encoding === 'adrp_ldr' ? 8 : 1, field), true);
      return;
    }
  }
}
