// What the API tests share: a few functions as machine code for the running arch, and the
// check that a call throws a DlbindError with a given code.
import * as assert from 'uvu/assert';
import { DlbindError } from '../../src/index.js';

const x64 = process.arch === 'x64';
/** int answer(void) { return 42; } */
export const ANSWER = x64 ? [0xb8, 0x2a, 0, 0, 0, 0xc3] : [0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6];
/** int seven(void) { return 7; } */
export const SEVEN = x64 ? [0xb8, 7, 0, 0, 0, 0xc3] : [0xe0, 0x00, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6];
/** The identity on the first integer or pointer argument (mov rax, rdi; ret / ret). */
export const IDENTITY = x64 ? [0x48, 0x89, 0xf8, 0xc3] : [0xc0, 0x03, 0x5f, 0xd6];

/** Runs `fn`, which must throw a DlbindError with `code` (and a message matching `message`); returns it. */
export function failsWith(fn: () => unknown, code: string, message?: RegExp): DlbindError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DlbindError, String(err));
    const e = err as DlbindError;
    assert.is(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return e;
  }
  return assert.unreachable(`expected ${code}`) as never;
}
