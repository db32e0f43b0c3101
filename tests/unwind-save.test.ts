// dlsave keeps unwind rules: the saved object has .eh_frame, .eh_frame_hdr
// and PT_GNU_EH_FRAME as GNU ld lays them out, so a g++ program linked
// against it catches exceptions thrown through its functions, counts the
// control's frames, gdb names every frame, valgrind's stack for a fault in
// it reaches main; readelf, eu-elflint and readElf agree on the tables.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dlcreate, dlsave, readElf } from '../src/index.js';
import { compileC, have, run, skipBecause, tempDir } from './helpers/tools.js';
import {
  JIT_FP,
  JIT_NOFP,
  NOFP_CFI,
  assertAgreesWithReadelf,
  assertGdbBacktrace,
  assertHostTerminates,
  assertHostUnwinds,
  compileHost,
  gdbBacktrace,
  readelfFrames,
  x86,
} from './helpers/unwind.js';
import { assertNoWX } from './helpers/wx.js';

const dir = tempDir('dlbind-unwind-save-');
/** int jit_fault(int *p), no frame pointer, rbp holding p: push rbx; push rbp; sub rsp, 8; mov rbp, rdi; mov eax, [rbp]; add rsp, 8; pop rbp; pop rbx; ret */
const JIT_FAULT = Uint8Array.of(0x53, 0x55, 0x48, 0x83, 0xec, 0x08, 0x48, 0x89, 0xfd, 0x8b, 0x45, 0x00, 0x48, 0x83, 0xc4, 0x08, 0x5d, 0x5b, 0xc3);

test.after.each(() => assertNoWX('after the test'));

function saved(name: string, rules: boolean): string {
  const libDir = join(dir, name);
  mkdirSync(libDir, { recursive: true });
  const lib = dlcreate(undefined, { maxSymbols: 128 });
  try {
    lib.addData('some_data', Uint8Array.of(1, 2, 3, 4));
    lib.addFunction('jit_fp', JIT_FP, rules ? { unwind: 'frame-pointer' } : {});
    lib.addFunction('jit_nofp', JIT_NOFP, rules ? { unwind: NOFP_CFI } : {});
    lib.addFunction('jit_fault', JIT_FAULT, rules ? { unwind: NOFP_CFI } : {});
    // A freed function leaves nothing behind in the saved tables.
    lib.free(lib.addFunction('gone', JIT_FP, rules ? { unwind: 'frame-pointer' } : {}));
    dlsave(lib, join(libDir, 'libjit.so'));
  } finally {
    lib.delete();
  }
  return libDir;
}

test('the saved object has the tables, as readelf, eu-elflint and readElf read them, with the rules given', () => {
  const path = join(saved('tables', true), 'libjit.so');
  const bytes = new Uint8Array(readFileSync(path));
  const f = readElf(bytes);
  const seg = f.segments.find((p) => p.p_type === 0x6474e550)!;
  assert.ok(seg, 'PT_GNU_EH_FRAME');
  assert.is(seg.p_vaddr, f.section('.eh_frame_hdr')!.sh_addr);
  const u = f.unwind!;
  assert.equal(
    u.ehFrame!.fdes.map((d) => d.pc_begin),
    ['jit_fp', 'jit_nofp', 'jit_fault'].map((n) => f.lookup(n)!.st_value),
  );
  assert.is(u.ehFrameHdr!.fde_count, 3);
  if (have('readelf')) {
    assertAgreesWithReadelf(path, bytes, { rules: true });
    const fdes = readelfFrames(path).filter((r) => r.kind === 'FDE');
    assert.equal(
      fdes[0]!.instructions.filter((i) => i !== 'DW_CFA_nop'),
      ['DW_CFA_advance_loc: 1', 'DW_CFA_def_cfa_offset: 16', 'DW_CFA_offset: r6 (rbp) at cfa-16', 'DW_CFA_advance_loc: 3', 'DW_CFA_def_cfa_register: r6 (rbp)'],
    );
    assert.ok(fdes[1]!.instructions.includes('DW_CFA_offset: r6 (rbp) at cfa-24'));
  } else skipBecause('readelf on the saved object', 'not installed');
  if (have('eu-elflint')) {
    const r = run('eu-elflint', ['--gnu-ld', path]);
    assert.is(r.status, 0, r.stdout + r.stderr);
  } else skipBecause('eu-elflint on the saved object', 'not installed');
  assert.is(readElf(new Uint8Array(readFileSync(join(saved('plain', false), 'libjit.so')))).unwind, undefined);
});

test('a g++ program linked against the saved object catches exceptions through both functions and counts the control frames; without rules it terminates', () => {
  if (!x86 || !have('g++')) return skipBecause('C++ exceptions through a saved object', 'needs x86_64 and g++');
  assertHostUnwinds(compileHost(dir, saved('with', true), 'jit', join(dir, 'host-with')));
  assertHostTerminates(compileHost(dir, saved('without', false), 'jit', join(dir, 'host-without')));
});

test('gdb bt names the saved JIT functions with no ?? frame and no "Backtrace stopped"', () => {
  if (!x86 || !have('g++') || !have('gdb')) return skipBecause('gdb on a saved object', 'needs x86_64, g++ and gdb');
  const host = compileHost(dir, saved('gdb', true), 'jit', join(dir, 'host-gdb'));
  assertGdbBacktrace(gdbBacktrace(host, 'fp'), 'jit_fp');
  assertGdbBacktrace(gdbBacktrace(host, 'nofp'), 'jit_nofp');
});

test("valgrind memcheck's stack for a fault in a saved function reaches main; without rules it does not", () => {
  if (!x86 || !have('valgrind') || !have('gcc')) return skipBecause('valgrind', 'needs x86_64, gcc and valgrind');
  const stack = (libDir: string, name: string) => {
    const host = compileC(
      dir,
      name,
      'extern int jit_fault(int *p);\nint main(void) { return jit_fault(0); }\n',
      [`-L${libDir}`, '-ljit', `-Wl,-rpath,${libDir}`],
      join(dir, name),
    );
    const r = run('valgrind', ['--tool=memcheck', '--error-exitcode=9', host], { timeoutMs: 240_000 });
    return r.stderr;
  };
  const good = stack(saved('valgrind-with', true), 'fault-with');
  assert.match(good, /Invalid read of size 4/, good);
  assert.match(good, /at 0x[0-9A-F]+: jit_fault \(in .*libjit\.so\)/, good);
  assert.match(good, /by 0x[0-9A-F]+: main \(/, good);
  const bad = stack(saved('valgrind-without', false), 'fault-without');
  assert.match(bad, /jit_fault/, bad);
  assert.not.match(bad.split('Invalid read')[1]!.split('Address 0x0')[0]!, /: main \(/, bad);
});

test.run();
