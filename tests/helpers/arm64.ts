// A few A64 instructions by name, for tests that write arm64 code. Each encoder is checked
// against aarch64-linux-gnu-objdump in tests/arm64-encodings.test.ts. Registers are numbers:
// 0-30 for w0-w30 / x0-x30, 31 for sp or the zero register, as the instruction reads it.

/** The bytes of a sequence of instruction words, little-endian as A64 code always is. */
export function a64(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  return out;
}

function reg(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new RangeError(`register ${r}`);
  return r;
}

function field(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw new RangeError(`${what} ${value} does not fit ${bits} bits`);
  return value;
}

/** A scaled signed immediate (stp/ldp offsets), checked and masked to `bits`. */
function scaled(value: number, scale: number, bits: number, what: string): number {
  if (value % scale !== 0 || value / scale < -(2 ** (bits - 1)) || value / scale >= 2 ** (bits - 1)) throw new RangeError(`${what} ${value}`);
  return (value / scale) & (2 ** bits - 1);
}

/** movz wd, #imm16, lsl #shift (shift 0 or 16); x = true for movz xd (shift up to 48). */
export const movz = (rd: number, imm16: number, shift = 0, x = false): number =>
  ((x ? 0xd2800000 : 0x52800000) | (field(shift / 16, x ? 2 : 1, 'shift') << 21) | (field(imm16, 16, 'imm16') << 5) | reg(rd)) >>> 0;

/** movk wd, #imm16, lsl #shift; x = true for movk xd. */
export const movk = (rd: number, imm16: number, shift = 0, x = false): number =>
  ((x ? 0xf2800000 : 0x72800000) | (field(shift / 16, x ? 2 : 1, 'shift') << 21) | (field(imm16, 16, 'imm16') << 5) | reg(rd)) >>> 0;

/** add wd, wn, wm; x = true for add xd, xn, xm. */
export const add = (rd: number, rn: number, rm: number, x = false): number =>
  ((x ? 0x8b000000 : 0x0b000000) | (reg(rm) << 16) | (reg(rn) << 5) | reg(rd)) >>> 0;

/** add xd, xn, #imm12 (with rn or rd 31 meaning sp: `mov x29, sp` is addImm(29, 31, 0)). */
export const addImm = (rd: number, rn: number, imm12: number): number => (0x91000000 | (field(imm12, 12, 'imm12') << 10) | (reg(rn) << 5) | reg(rd)) >>> 0;

/** mul wd, wn, wm (madd with the zero register). */
export const mul = (rd: number, rn: number, rm: number): number => (0x1b007c00 | (reg(rm) << 16) | (reg(rn) << 5) | reg(rd)) >>> 0;

/** ldr wt, [xn, #offset] (offset a multiple of 4). */
export const ldrW = (rt: number, rn: number, offset = 0): number => (0xb9400000 | (field(offset / 4, 12, 'offset') << 10) | (reg(rn) << 5) | reg(rt)) >>> 0;

/** ret (to x30). */
export const ret = (): number => 0xd65f03c0;

/** bl to `offset` bytes from this instruction (a multiple of 4 within +-128 MiB). */
export const bl = (offset: number): number => (0x94000000 | scaled(offset, 4, 26, 'bl offset')) >>> 0;

/** stp xt, xt2, [xn, #offset]! (pre-index): `stp x29, x30, [sp, #-16]!` opens a frame. */
export const stpPre = (rt: number, rt2: number, rn: number, offset: number): number =>
  (0xa9800000 | (scaled(offset, 8, 7, 'stp offset') << 15) | (reg(rt2) << 10) | (reg(rn) << 5) | reg(rt)) >>> 0;

/** ldp xt, xt2, [xn], #offset (post-index): `ldp x29, x30, [sp], #16` closes it. */
export const ldpPost = (rt: number, rt2: number, rn: number, offset: number): number =>
  (0xa8c00000 | (scaled(offset, 8, 7, 'ldp offset') << 15) | (reg(rt2) << 10) | (reg(rn) << 5) | reg(rt)) >>> 0;

/** nop */
export const nop = (): number => 0xd503201f;

/** w0 = value (any 32-bit value), then ret: an `int f(void)` returning it. */
export function returns32(value: number): Uint8Array {
  const v = value >>> 0;
  const lo = v & 0xffff;
  const hi = v >>> 16;
  return hi === 0 ? a64(movz(0, lo), ret()) : a64(movz(0, lo), movk(0, hi, 16), ret());
}
