// The named arm64 encodings that tests use (tests/helpers/arm64.ts), each disassembled by
// aarch64-linux-gnu-objdump: the words say what their names say.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { a64, add, addImm, bl, ldpPost, ldrW, movk, movz, mul, nop, ret, returns32, stpPre } from './helpers/arm64.js';
import { have, mustRun, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-arm64-');
const OBJDUMP = 'aarch64-linux-gnu-objdump';

/** objdump's reading of each word: mnemonic and operands, comments dropped, spaces squeezed. */
function disassemble(words: number[]): string[] {
  const file = join(dir, 'code.bin');
  writeFileSync(file, a64(...words));
  return mustRun(OBJDUMP, ['-D', '-b', 'binary', '-m', 'aarch64', file])
    .stdout.split('\n')
    .map((l) => /^\s+[0-9a-f]+:\t[0-9a-f]{8} \t(.*)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) =>
      x
        .replace(/\s*\/\/.*$/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    );
}

const CASES: [number, string][] = [
  [movz(0, 42), 'mov w0, #0x2a'],
  [movz(3, 0x1234, 16), 'mov w3, #0x12340000'],
  [movz(9, 0xbeef, 48, true), 'mov x9, #0xbeef000000000000'],
  [movk(0, 0xffff, 16), 'movk w0, #0xffff, lsl #16'],
  [movk(1, 0x1, 32, true), 'movk x1, #0x1, lsl #32'],
  [add(0, 0, 1), 'add w0, w0, w1'],
  [add(2, 3, 4, true), 'add x2, x3, x4'],
  [addImm(29, 31, 0), 'mov x29, sp'],
  [addImm(0, 1, 4095), 'add x0, x1, #0xfff'],
  [mul(0, 0, 1), 'mul w0, w0, w1'],
  [ldrW(0, 0), 'ldr w0, [x0]'],
  [ldrW(5, 6, 16), 'ldr w5, [x6, #16]'],
  [ret(), 'ret'],
  [stpPre(29, 30, 31, -16), 'stp x29, x30, [sp, #-16]!'],
  [stpPre(19, 20, 31, -512), 'stp x19, x20, [sp, #-512]!'],
  [ldpPost(29, 30, 31, 16), 'ldp x29, x30, [sp], #16'],
  [ldpPost(19, 20, 31, 504), 'ldp x19, x20, [sp], #504'],
  [nop(), 'nop'],
];

test('each named encoding disassembles to the instruction it is named for', () => {
  if (!have(OBJDUMP)) return skipBecause('arm64 encodings', `${OBJDUMP} is not installed (Debian: binutils-aarch64-linux-gnu)`);
  assert.equal(
    disassemble(CASES.map(([w]) => w)),
    CASES.map(([, text]) => text),
  );
});

test('bl: forward and backward offsets land where they say (objdump prints the target)', () => {
  if (!have(OBJDUMP)) return skipBecause('bl encodings', `${OBJDUMP} is not installed`);
  // At addresses 0, 4, 8: bl +8 (to 8), nop, bl -8 (to 0); at 12 and 16 the farthest each way.
  const got = disassemble([bl(8), nop(), bl(-8), bl(0x7fffffc), bl(-0x8000000)]);
  assert.equal(got, ['bl 0x8', 'nop', 'bl 0x0', 'bl 0x8000008', 'bl 0xfffffffff8000010']);
});

test('returns32 is mov/movk then ret; out-of-range operands throw instead of encoding garbage', () => {
  if (have(OBJDUMP)) {
    const words = (b: Uint8Array) => Array.from({ length: b.length / 4 }, (_, i) => new DataView(b.buffer).getUint32(i * 4, true));
    assert.equal(disassemble(words(returns32(7))), ['mov w0, #0x7', 'ret']);
    assert.equal(disassemble(words(returns32(0xdeadbeef))), ['mov w0, #0xbeef', 'movk w0, #0xdead, lsl #16', 'ret']);
  } else skipBecause('returns32 listing', `${OBJDUMP} is not installed`);
  assert.throws(() => movz(32, 0), RangeError);
  assert.throws(() => movz(0, 0x10000), RangeError);
  assert.throws(() => movz(0, 1, 32), RangeError);
  assert.throws(() => bl(2), RangeError);
  assert.throws(() => bl(0x8000000), RangeError);
  assert.throws(() => stpPre(29, 30, 31, -520), RangeError);
  assert.throws(() => ldrW(0, 0, 2), RangeError);
});

test.run();
