// The DWARF CFI layer and offline objects: LEB128 and the instruction builder
// byte for byte, .eh_frame/.eh_frame_hdr written by buildSharedObject as GNU
// ld lays them out, read back by readElf in agreement with readelf (also on
// system libraries), accepted by eu-elflint, and used for real: a g++ program
// linked against the object catches a C++ exception thrown through its
// functions, backtrace() and _Unwind_Backtrace count the frames a
// gcc-compiled function gives, gdb names every frame. Without unwind rules
// the same program terminates.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSleb128, readUleb128, sleb128, uleb128 } from '../src/elf/leb128.js';
import { ElfBuildError, buildSharedObject, cfi, decodeCfi, framePointerCfi, readElf, type SymbolSpec } from '../src/index.js';
import { systemLibrary } from './elf-samples.js';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';
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

const dir = tempDir('dlbind-unwind-elf-');
const hex = (b: Uint8Array | number[]) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

test('LEB128 round-trips at the 7-bit boundaries and matches the DWARF examples', () => {
  assert.is(hex(uleb128(2)), '02');
  assert.is(hex(uleb128(127)), '7f');
  assert.is(hex(uleb128(128)), '80 01');
  assert.is(hex(uleb128(12857)), 'b9 64');
  assert.is(hex(sleb128(-2)), '7e');
  assert.is(hex(sleb128(-127)), '81 7f');
  assert.is(hex(sleb128(-128)), '80 7f');
  assert.is(hex(sleb128(63)), '3f');
  assert.is(hex(sleb128(64)), 'c0 00');
  for (const v of [0, 1, 63, 64, 127, 128, 8191, 8192, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    const u = Uint8Array.from(uleb128(v));
    assert.equal(readUleb128(u, 0), { value: v, next: u.length });
    for (const s of [v, -v - 1]) {
      if (!Number.isSafeInteger(s)) continue;
      const b = Uint8Array.from(sleb128(s));
      assert.equal(readSleb128(b, 0), { value: s, next: b.length });
    }
  }
  assert.throws(() => readUleb128(Uint8Array.of(0x80, 0x80), 0), /runs past/);
  assert.throws(
    () => uleb128(-1),
    (e: unknown) => e instanceof ElfBuildError,
  );
});

test('the builder writes the bytes GCC writes, picks the short encodings, and names registers per machine', () => {
  // gcc -O0 on x86_64: .cfi_def_cfa_offset 16 / .cfi_offset 6, -16 / .cfi_def_cfa_register 6
  assert.is(hex(framePointerCfi('x86_64')), '41 0e 10 86 02 43 0d 06');
  assert.is(hex(framePointerCfi('aarch64')), '41 0e 10 9d 02 9e 01 41 0d 1d');
  assert.is(hex(cfi().advance(64).advance(300).advance(70000).bytes()), '02 40 03 2c 01 04 70 11 01 00');
  assert.is(
    hex(cfi().offset('r12', 8).offset(70, -8).defCfa('rsp', 8).defCfa('rbp', -16).defCfaOffset(-8).bytes()),
    '11 0c 7f 05 46 01 0c 07 08 12 06 02 13 01',
  );
  assert.is(
    hex(cfi().restore('rbp').restore(100).sameValue('rbx').undefined('rip').rememberState().restoreState().nop().bytes()),
    'c6 06 64 08 03 07 10 0a 0b 00',
  );
  assert.is(hex(cfi('aarch64').defCfa('sp', 32).offset('fp', -32).offset('lr', -24).bytes()), '0c 1f 20 9d 04 9e 03');
  const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof ElfBuildError && re.test(e.message));
  bad(() => cfi().offset('x29', -16), /no register 'x29' on x86_64/);
  bad(() => cfi('aarch64').advance(2), /multiple of 4/);
  bad(() => cfi().offset('rbp', -12), /multiple of 8/);
  bad(() => cfi().advance(-1), /non-negative/);
  // And the decoder reads them back.
  const back = decodeCfi(framePointerCfi('x86_64'), { code: 1, data: -8 });
  assert.equal(
    back.map((i) => i.op),
    ['DW_CFA_advance_loc', 'DW_CFA_def_cfa_offset', 'DW_CFA_offset', 'DW_CFA_advance_loc', 'DW_CFA_def_cfa_register'],
  );
  assert.is(back[2]!.offset, -16);
});

function jitSpec(unwind: boolean, machine: 'x86_64' | 'aarch64' = 'x86_64'): SymbolSpec[] {
  if (machine === 'aarch64') {
    // stp x29, x30, [sp, #-16]!; mov x29, sp; blr x0; ldp x29, x30, [sp], #16; ret
    const fp = Uint8Array.of(0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0x00, 0x00, 0x3f, 0xd6, 0xfd, 0x7b, 0xc1, 0xa8, 0xc0, 0x03, 0x5f, 0xd6);
    // No frame pointer, x19 holding the callback: sub sp, sp, #32; stp x19, x30, [sp, #16]; mov x19, x0; blr x19; ldp x19, x30, [sp, #16]; add sp, sp, #32; ret
    const nofp = Uint8Array.of(
      0xff,
      0x83,
      0x00,
      0xd1,
      0xf3,
      0x7b,
      0x01,
      0xa9,
      0xf3,
      0x03,
      0x00,
      0xaa,
      0x60,
      0x02,
      0x3f,
      0xd6,
      0xf3,
      0x7b,
      0x41,
      0xa9,
      0xff,
      0x83,
      0x00,
      0x91,
      0xc0,
      0x03,
      0x5f,
      0xd6,
    );
    const built = cfi('aarch64').advance(4).defCfaOffset(32).advance(4).offset('x19', -16).offset('lr', -8).bytes();
    return [
      { name: 'jit_fp', section: 'text', bytes: fp, ...(unwind ? { unwind: 'frame-pointer' as const } : {}) },
      { name: 'jit_built', section: 'text', bytes: nofp, ...(unwind ? { unwind: built } : {}) },
    ];
  }
  return [
    { name: 'pad', section: 'text', bytes: [0xc3] },
    { name: 'jit_fp', section: 'text', bytes: JIT_FP, ...(unwind ? { unwind: 'frame-pointer' as const } : {}) },
    { name: 'jit_nofp', section: 'text', bytes: JIT_NOFP, ...(unwind ? { unwind: NOFP_CFI } : {}) },
  ];
}

function writeLib(name: string, unwind: boolean): string {
  const libDir = join(dir, name);
  mkdirSync(libDir, { recursive: true });
  writeFileSync(join(libDir, 'libjit.so'), buildSharedObject({ soname: 'libjit.so', symbols: jitSpec(unwind) }));
  return libDir;
}

test('the hand-encoded JIT functions are what objdump says they are', () => {
  if (!have('objdump')) return skipBecause('objdump check', 'objdump not installed');
  const lib = join(writeLib('objdump', true), 'libjit.so');
  const d = mustRun('objdump', ['-d', '--no-show-raw-insn', lib]).stdout;
  const body = (name: string) =>
    d
      .split(`<${name}>:`)[1]!
      .split('\n\n')[0]!
      .split('\n')
      .map((l) => l.split('\t').slice(1).join(' ').replace(/\s+/g, ' ').trim())
      .filter((l) => l !== '' && l !== '...');
  assert.equal(body('jit_fp'), ['push %rbp', 'mov %rsp,%rbp', 'call *%rdi', 'pop %rbp', 'ret']);
  assert.equal(body('jit_nofp').slice(0, 9), [
    'push %rbx',
    'push %rbp',
    'sub $0x8,%rsp',
    'mov %rdi,%rbp',
    'call *%rbp',
    'add $0x8,%rsp',
    'pop %rbp',
    'pop %rbx',
    'ret',
  ]);
});

test('buildSharedObject lays out .eh_frame_hdr, .eh_frame and PT_GNU_EH_FRAME as GNU ld does; readelf and eu-elflint accept them', () => {
  const path = join(writeLib('layout', true), 'libjit.so');
  const bytes = new Uint8Array(readFileSync(path));
  const f = readElf(bytes);
  const hdr = f.section('.eh_frame_hdr')!;
  const eh = f.section('.eh_frame')!;
  assert.ok(hdr && eh);
  assert.is(f.sections.indexOf(eh), f.sections.indexOf(hdr) + 1);
  const seg = f.segments.find((p) => p.p_type === 0x6474e550)!;
  assert.is(seg.p_vaddr, hdr.sh_addr);
  assert.is(seg.p_filesz, hdr.sh_size);
  const load = f.segments.find((p) => p.p_type === 1 && p.p_vaddr <= eh.sh_addr && eh.sh_addr < p.p_vaddr + p.p_memsz)!;
  assert.is(load.p_flags, 4, '.eh_frame is in a read-only segment');
  const u = f.unwind!;
  assert.is(u.ehFrameHdr!.fde_count, 2);
  assert.is(u.ehFrameHdr!.eh_frame_ptr, eh.sh_addr);
  const fp = f.lookup('jit_fp')!;
  const nofp = f.lookup('jit_nofp')!;
  assert.equal(
    u.ehFrameHdr!.table.map((e) => e.initial_loc),
    [fp.st_value, nofp.st_value],
  );
  assert.equal(
    u.ehFrameHdr!.table.map((e) => e.fde),
    u.ehFrame!.fdes.map((d) => eh.sh_addr + BigInt(d.offset)),
  );
  assert.equal(
    u.ehFrame!.fdes.map((d) => [d.pc_begin, d.pc_range]),
    [
      [fp.st_value, fp.st_size],
      [nofp.st_value, nofp.st_size],
    ],
  );
  if (have('readelf')) {
    assertAgreesWithReadelf(path, bytes, { rules: true });
    const frames = readelfFrames(path);
    // The rules readelf decodes are the ones given.
    assert.equal(
      frames.find((r) => r.kind === 'FDE' && r.pcBegin === fp.st_value)!.instructions.filter((i) => i !== 'DW_CFA_nop'),
      ['DW_CFA_advance_loc: 1', 'DW_CFA_def_cfa_offset: 16', 'DW_CFA_offset: r6 (rbp) at cfa-16', 'DW_CFA_advance_loc: 3', 'DW_CFA_def_cfa_register: r6 (rbp)'],
    );
    assert.equal(
      frames.find((r) => r.kind === 'FDE' && r.pcBegin === nofp.st_value)!.instructions.filter((i) => i !== 'DW_CFA_nop'),
      [
        'DW_CFA_advance_loc: 1',
        'DW_CFA_def_cfa_offset: 16',
        'DW_CFA_offset: r3 (rbx) at cfa-16',
        'DW_CFA_advance_loc: 1',
        'DW_CFA_def_cfa_offset: 24',
        'DW_CFA_offset: r6 (rbp) at cfa-24',
        'DW_CFA_advance_loc: 4',
        'DW_CFA_def_cfa_offset: 32',
      ],
    );
    const warnings = run('readelf', ['-wf', '-W', path]).stderr;
    assert.is(warnings, '', 'readelf warns');
  } else skipBecause('readelf comparison', 'readelf not installed');
  if (have('eu-elflint')) {
    const r = run('eu-elflint', ['--gnu-ld', path]);
    assert.is(r.status, 0, r.stdout + r.stderr);
  } else skipBecause('eu-elflint', 'not installed');
  // Without unwind rules nothing changes: no sections, no segment.
  const plain = readElf(buildSharedObject({ symbols: jitSpec(false) }));
  assert.is(plain.section('.eh_frame'), undefined);
  assert.is(plain.unwind, undefined);
  assert.throws(
    () => buildSharedObject({ symbols: [{ name: 'd', section: 'data', bytes: [1], unwind: 'frame-pointer' }] }),
    (e: unknown) => e instanceof ElfBuildError && e.field === 'symbols[0].unwind',
  );
  assert.throws(
    () => buildSharedObject({ symbols: [{ name: 'f', section: 'text', bytes: [0xc3], unwind: 'frame pointer' as 'frame-pointer' }] }),
    (e: unknown) => e instanceof ElfBuildError && e.field === 'symbols[0].unwind',
  );
});

test('readElf agrees with readelf -wf on system libraries (libc, libstdc++, libgcc_s)', () => {
  if (!have('readelf')) return skipBecause('system library comparison', 'readelf not installed');
  for (const lib of ['libc.so.6', 'libstdc++.so.6', 'libgcc_s.so.1']) {
    const path = systemLibrary(lib);
    const bytes = new Uint8Array(readFileSync(path));
    assertAgreesWithReadelf(path, bytes, { rules: false });
    const u = readElf(bytes).unwind!;
    // The search table covers every FDE, sorted.
    assert.is(u.ehFrameHdr!.fde_count, u.ehFrame!.fdes.length, lib);
    const locs = u.ehFrameHdr!.table.map((e) => e.initial_loc);
    assert.ok(
      locs.every((v, i) => i === 0 || locs[i - 1]! <= v),
      `${lib} table sorted`,
    );
  }
});

test('a g++ program linked against the object catches an exception thrown through both JIT functions; without unwind rules it terminates', () => {
  if (!x86) return skipBecause('C++ exceptions', `runs x86_64 code, this is ${process.arch}`);
  if (!have('g++')) return skipBecause('C++ exceptions', 'g++ not installed');
  const good = compileHost(dir, writeLib('with', true), 'jit', join(dir, 'host-with'));
  assertHostUnwinds(good);
  const bad = compileHost(dir, writeLib('without', false), 'jit', join(dir, 'host-without'));
  assertHostTerminates(bad);
  // Without rules, the counts from below the JIT frame fall short of the control's.
  const control = mustRun(bad, ['control', 'count']).stdout.trim();
  assert.is.not(mustRun(bad, ['nofp', 'count']).stdout.trim(), control);
});

test('gdb bt names both JIT functions with no ?? frame and no "Backtrace stopped"; without rules it does not for the one without a frame pointer', () => {
  if (!x86 || !have('g++') || !have('gdb')) return skipBecause('gdb backtrace', 'needs x86_64, g++ and gdb');
  const good = compileHost(dir, writeLib('gdb-with', true), 'jit', join(dir, 'host-gdb-with'));
  assertGdbBacktrace(gdbBacktrace(good, 'fp'), 'jit_fp');
  assertGdbBacktrace(gdbBacktrace(good, 'nofp'), 'jit_nofp');
  const bad = compileHost(dir, writeLib('gdb-without', false), 'jit', join(dir, 'host-gdb-without'));
  const lost = gdbBacktrace(bad, 'nofp');
  assert.ok(/\?\?|Backtrace stopped/.test(lost) || !/ main /.test(lost), lost);
});

test('aarch64: the preset and the builder give CFI that aarch64 readelf decodes as intended', () => {
  const tool = have('aarch64-linux-gnu-readelf') ? 'aarch64-linux-gnu-readelf' : have('readelf') ? 'readelf' : undefined;
  if (tool === undefined) return skipBecause('aarch64 CFI', 'readelf not installed');
  const path = join(dir, 'libjit-arm64.so');
  const bytes = buildSharedObject({ machine: 'aarch64', soname: 'libjit-arm64.so', symbols: jitSpec(true, 'aarch64') });
  writeFileSync(path, bytes);
  assertAgreesWithReadelf(path, bytes, { rules: true, readelf: tool });
  const frames = readelfFrames(path, tool);
  const cie = frames.find((r) => r.kind === 'CIE')!;
  assert.is(cie.fields['Code alignment factor'], '4');
  assert.is(cie.fields['Data alignment factor'], '-8');
  assert.is(cie.fields['Return address column'], '30');
  assert.equal(
    cie.instructions.filter((i) => i !== 'DW_CFA_nop'),
    ['DW_CFA_def_cfa: r31 (sp) ofs 0'],
  );
  const fdes = frames.filter((r) => r.kind === 'FDE').map((r) => r.instructions.filter((i) => i !== 'DW_CFA_nop'));
  assert.equal(fdes[0], [
    'DW_CFA_advance_loc: 4',
    'DW_CFA_def_cfa_offset: 16',
    'DW_CFA_offset: r29 (x29) at cfa-16',
    'DW_CFA_offset: r30 (x30) at cfa-8',
    'DW_CFA_advance_loc: 4',
    'DW_CFA_def_cfa_register: r29 (x29)',
  ]);
  assert.equal(fdes[1], [
    'DW_CFA_advance_loc: 4',
    'DW_CFA_def_cfa_offset: 32',
    'DW_CFA_advance_loc: 4',
    'DW_CFA_offset: r19 (x19) at cfa-16',
    'DW_CFA_offset: r30 (x30) at cfa-8',
  ]);
  // And defCfa/register names on aarch64 encode as readelf reads them.
  const other = join(dir, 'libcfa-arm64.so');
  const defCfa = cfi('aarch64').defCfa('x19', 16).sameValue('fp').bytes();
  writeFileSync(other, buildSharedObject({ machine: 'aarch64', symbols: [{ name: 'g', section: 'text', bytes: new Uint8Array(8), unwind: defCfa }] }));
  assert.equal(
    readelfFrames(other, tool)
      .find((r) => r.kind === 'FDE')!
      .instructions.filter((i) => i !== 'DW_CFA_nop'),
    ['DW_CFA_def_cfa: r19 (x19) ofs 16', 'DW_CFA_same_value: r29 (x29)'],
  );
  if (have('eu-elflint')) assert.is(run('eu-elflint', ['--gnu-ld', path]).status, 0);
});

test("dlbind build takes 'unwind' in the JSON spec ('frame-pointer' or bytes as hex); dlbind inspect shows the rules", async () => {
  const { run: runCli } = await import('../src/cli/program.js');
  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };
  const spec = join(dir, 'unwind-spec.json');
  writeFileSync(
    spec,
    JSON.stringify({
      symbols: [
        { name: 'jit_fp', section: 'text', bytes: hex(JIT_FP), unwind: 'frame-pointer' },
        { name: 'jit_nofp', section: 'text', bytes: hex(JIT_NOFP), unwind: hex(NOFP_CFI) },
      ],
    }),
  );
  const out = join(dir, 'libspec.so');
  const b = await cli('build', spec, '-o', out);
  assert.is(b.code, 0, b.err);
  const f = readElf(new Uint8Array(readFileSync(out)));
  assert.equal(
    f.unwind!.ehFrame!.fdes.map((d) => d.instructions.filter((i) => i.op !== 'DW_CFA_nop').length),
    [5, 8],
  );
  const text = await cli('inspect', out);
  assert.is(text.code, 0);
  assert.match(text.out, /Call frame information \(\.eh_frame at 0x[0-9a-f]+: 1 CIE, 2 FDE\)/);
  assert.match(text.out, /DW_CFA_def_cfa_offset: 16; DW_CFA_offset: r6 \(rbp\) at cfa-16; DW_CFA_advance_loc: 3; DW_CFA_def_cfa_register: r6 \(rbp\)/);
  const json = JSON.parse((await cli('inspect', out, '--json')).out);
  assert.is(json.unwind.ehFrameHdr.fde_count, 2);
  writeFileSync(spec, JSON.stringify({ symbols: [{ name: 'f', section: 'text', bytes: 'c3', unwind: 'zz' }] }));
  const bad = await cli('build', spec, '-o', out);
  assert.is(bad.code, 1);
  assert.match(bad.err, /symbols\[0\]\.unwind/);
});

test('aarch64 under emulation: an aarch64 g++ program catches an exception thrown through the preset and the builder variants', () => {
  const tools = ['aarch64-linux-gnu-g++', 'qemu-aarch64-static'];
  const missing = tools.filter((t) => !have(t));
  if (missing.length > 0) return skipBecause('aarch64 unwinding', `${missing.join(', ')} not installed`);
  const libDir = join(dir, 'arm64');
  mkdirSync(libDir, { recursive: true });
  writeFileSync(join(libDir, 'libjit.so'), buildSharedObject({ machine: 'aarch64', soname: 'libjit.so', symbols: jitSpec(true, 'aarch64') }));
  const src = join(libDir, 'host.cpp');
  writeFileSync(
    src,
    `#include <cstdio>
#include <stdexcept>
extern "C" void jit_fp(void (*)());
extern "C" void jit_built(void (*)());
extern "C" void thrower() { throw std::runtime_error("through JIT code"); }
int main(int argc, char **argv) {
  void (*f)(void (*)()) = argv[1][0] == 'b' ? jit_built : jit_fp;
  try { f(thrower); } catch (const std::runtime_error &) { puts("caught 1"); return 0; }
  return 1;
}
`,
  );
  const host = join(libDir, 'host');
  mustRun('aarch64-linux-gnu-g++', ['-O1', '-o', host, src, `-L${libDir}`, '-ljit', `-Wl,-rpath,${libDir}`]);
  for (const v of ['fp', 'built']) {
    const r = run('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', host, v], { timeoutMs: 120_000 });
    assert.is(r.stdout.trim(), 'caught 1', `${v}: ${r.status} ${r.stderr}`);
  }
  writeFileSync(join(libDir, 'libjit.so'), buildSharedObject({ machine: 'aarch64', soname: 'libjit.so', symbols: jitSpec(false, 'aarch64') }));
  const r = run('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', host, 'fp'], { timeoutMs: 120_000 });
  assert.match(r.stderr, /terminate called/, `without rules: ${r.status} ${r.stdout}`);
});

test.run();
