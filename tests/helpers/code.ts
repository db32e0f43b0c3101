// Machine code for the running architecture, so that one test file runs on x86_64 and, under
// the arm64 suite (tests tagged `// arch: aarch64`), on aarch64 too.
import { a64, add, movz, mul, returns32, ret } from './arm64.js';

export const arm = process.arch === 'arm64';

/** The segment alignment dlbind uses here, to which capacities are rounded up. */
export const PAGE = arm ? 65536 : 4096;

/** int answer(void) { return 42; }   x86_64: mov eax, 42; ret   aarch64: mov w0, #42; ret */
export const ANSWER = arm ? a64(movz(0, 42), ret()) : Uint8Array.of(0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3);

/** int add(int a, int b)   x86_64: lea eax, [rdi+rsi]; ret   aarch64: add w0, w0, w1; ret */
export const ADD = arm ? a64(add(0, 0, 1), ret()) : Uint8Array.of(0x8d, 0x04, 0x37, 0xc3);

/** int mul(int a, int b)   x86_64: imul edi, esi; mov eax, edi; ret   aarch64: mul w0, w0, w1; ret */
export const MUL = arm ? a64(mul(0, 0, 1), ret()) : Uint8Array.of(0x0f, 0xaf, 0xfe, 0x89, 0xf8, 0xc3);

/** int f(void) returning `n` (a 32-bit value)   x86_64: mov eax, n; ret */
export const returns = (n: number): Uint8Array =>
  arm ? returns32(n) : Uint8Array.of(0xb8, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0xc3);

/** A function-sized filler that returns at once when run: ret, repeated. */
export const rets = (bytes: number): Uint8Array => (arm ? a64(...Array.from({ length: bytes / 4 }, ret)) : new Uint8Array(bytes).fill(0xc3));
