// Unwinding through a live library's code, driven through koffi: a C++
// exception thrown by a callback that a JIT function called is caught by the
// C++ code that called it (child processes: without rules it is terminate),
// backtrace() and _Unwind_Backtrace count the frames a gcc-compiled function
// gives, gdb names every frame, readelf and eu-elflint accept the tables as
// they are in the memfd, and a thread unwinding through JIT code in a loop
// never gets a broken trace while 10,000 other functions come and go.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DlbindError, SHF_EXECINSTR, cfi, dlcreate, readElf } from '../src/index.js';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';
import { CPP_SIDE, CPP_THREAD, JIT_FP, JIT_NOFP, NOFP_CFI, assertAgreesWithReadelf, readelfFrames, x86 } from './helpers/unwind.js';
import { assertNoWX } from './helpers/wx.js';

const dir = tempDir('dlbind-unwind-live-');
const child = join(import.meta.dirname, 'fixtures', 'unwind-live-child.ts');
const ready = x86 && have('g++');

function cppLibrary(name: string, source: string): string {
  const src = join(dir, `${name}.cpp`);
  writeFileSync(src, source);
  const out = join(dir, `lib${name}.so`);
  mustRun('g++', ['-shared', '-fPIC', '-O1', '-g', '-o', out, src, '-lpthread']);
  return out;
}
const catcher = ready ? cppLibrary('catcher', CPP_SIDE) : '';

function inChild(rules: string, action: string, variant: string) {
  return run(process.execPath, ['--import', 'tsx', child, catcher, rules, action, variant], { timeoutMs: 120_000 });
}

test.after.each(() => assertNoWX('after the test'));

test('C++ catches an exception thrown through both live JIT functions; the frame counts equal the control; without rules: terminate', () => {
  if (!ready) return skipBecause('live C++ exceptions', 'needs x86_64 and g++');
  const control = inChild('preset', 'count', 'control');
  assert.match(control.stdout, /^frames \d+ \d+$/m, control.stderr);
  for (const variant of ['fp', 'nofp']) {
    const r = inChild('preset', 'throw', variant);
    assert.is(r.stdout.trim(), 'caught 1', `${variant}: ${r.stderr}`);
    assert.is(inChild('preset', 'count', variant).stdout, control.stdout, `${variant}: backtrace() and _Unwind_Backtrace`);
    const bad = inChild('none', 'throw', variant);
    assert.is(bad.signal, 'SIGABRT', `${variant} without rules: ${bad.status} ${bad.stdout}`);
    assert.match(bad.stderr, /terminate called after throwing an instance of 'std::runtime_error'/);
  }
  assert.is.not(inChild('none', 'count', 'nofp').stdout, control.stdout);
});

/** Frames from the breakpoint up to the C++ caller of the JIT function (koffi and V8 below it are not ours). */
function gdbFrames(rules: string, variant: string): string[] {
  const r = run(
    'gdb',
    [
      '-nx',
      '-batch',
      '-ex',
      'set breakpoint pending on',
      '-ex',
      'break stop_here',
      '-ex',
      'run',
      '-ex',
      'bt 12',
      '--args',
      process.execPath,
      '--import',
      'tsx',
      child,
      catcher,
      rules,
      'stop',
      variant,
    ],
    { timeoutMs: 240_000 },
  );
  const frames = (r.stdout + r.stderr).split('\n').filter((l) => /^#\d+/.test(l));
  const caller = frames.findIndex((l) => l.includes('stop_through'));
  return caller < 0 ? frames : frames.slice(0, caller + 1);
}

test('gdb bt in a callback below a live JIT function names it and reaches its C++ caller with no ?? frame', () => {
  if (!ready || !have('gdb')) return skipBecause('gdb through a live library', 'needs x86_64, g++ and gdb');
  for (const [variant, name] of [
    ['fp', 'jit_fp'],
    ['nofp', 'jit_nofp'],
  ] as const) {
    const frames = gdbFrames('preset', variant);
    assert.ok(frames.at(-1)?.includes('stop_through'), frames.join('\n'));
    assert.ok(frames[2]?.includes(` ${name} ()`), frames.join('\n'));
    assert.ok(frames[2]?.includes('/proc/'), 'the frame is in the memfd gdb read through /proc/<pid>/fd/<n>');
    assert.is(frames.length, 4, frames.join('\n'));
    assert.not.ok(
      frames.some((l) => l.includes('??')),
      frames.join('\n'),
    );
  }
  // Without rules, gdb invents frames between the JIT function and its caller.
  const lost = gdbFrames('none', 'nofp');
  assert.ok(lost.length !== 4 || lost.some((l) => l.includes('??')), lost.join('\n'));
});

test('readelf -wf and eu-elflint accept the live tables read through /proc/<pid>/fd/<n>; readElf agrees; the rules are the ones given', () => {
  const lib = dlcreate('libunwind-live-tables.so', { maxSymbols: 256 });
  try {
    const fp = lib.addFunction('jit_fp', JIT_FP, { unwind: 'frame-pointer' });
    const nofp = lib.addFunction('jit_nofp', JIT_NOFP, { unwind: NOFP_CFI });
    const gone = lib.addFunction('gone', JIT_FP, { unwind: cfi().advance(1).defCfaOffset(16).bytes() });
    lib.addFunction('plain', JIT_FP);
    if (have('eu-elflint')) {
      const r = run('eu-elflint', ['--gnu-ld', lib.path]);
      assert.is(r.status, 0, r.stdout + r.stderr);
    }
    lib.free(gone);
    assert.match(lib.path, /^\/proc\/\d+\/fd\/\d+$/);
    const bytes = new Uint8Array(readFileSync(lib.path));
    const file = readElf(bytes);
    assert.ok(file.segments.some((p) => p.p_type === 0x6474e550));
    const u = file.unwind!;
    const rel = (a: bigint) => a - lib.loadBase;
    const live = u.ehFrame!.fdes.filter((f) => f.pc_range > 0n);
    assert.equal(
      live.map((f) => f.pc_begin),
      [rel(fp), rel(nofp)],
    );
    // The search table: sorted, every function found at its own address, the sentinel last.
    const table = u.ehFrameHdr!.table;
    assert.ok(table.every((e, i) => i === 0 || table[i - 1]!.initial_loc <= e.initial_loc));
    for (const f of live) assert.ok(table.some((e) => e.initial_loc === f.pc_begin && e.fde === u.ehFrame!.address + BigInt(f.offset)));
    if (have('readelf')) {
      assertAgreesWithReadelf(lib.path, bytes, { rules: true });
      const frames = readelfFrames(lib.path).filter((r) => r.kind === 'FDE' && r.pcEnd! > r.pcBegin!);
      assert.equal(
        frames[0]!.instructions.filter((i) => i !== 'DW_CFA_nop'),
        [
          'DW_CFA_advance_loc: 1',
          'DW_CFA_def_cfa_offset: 16',
          'DW_CFA_offset: r6 (rbp) at cfa-16',
          'DW_CFA_advance_loc: 3',
          'DW_CFA_def_cfa_register: r6 (rbp)',
        ],
      );
      assert.equal(frames[1]!.instructions.filter((i) => i !== 'DW_CFA_nop').length, 8);
    } else skipBecause('readelf on the live object', 'not installed');
    if (have('eu-elflint')) {
      // After a free, elflint also reports the GNU bloom filter's stale bits (the symbol table's, not ours).
      const r = run('eu-elflint', ['--gnu-ld', lib.path]);
      assert.not.match(r.stdout + r.stderr, /eh_frame|EH_FRAME/, r.stdout);
    } else skipBecause('eu-elflint on the live object', 'not installed');
  } finally {
    lib.delete();
  }
});

test('bad unwind options are typed errors and change nothing', () => {
  const lib = dlcreate(undefined, { maxSymbols: 64 });
  try {
    const code = (e: unknown) => (e instanceof DlbindError ? e.code : String(e));
    const throwsCode = (f: () => unknown, c: string) => {
      try {
        f();
      } catch (e) {
        assert.is(code(e), c);
        return;
      }
      assert.unreachable(`expected ${c}`);
    };
    throwsCode(() => lib.addFunction('a', JIT_FP, { unwind: 'frame pointer' as 'frame-pointer' }), 'EINVAL');
    throwsCode(() => lib.addFunction('b', JIT_FP, { unwind: Uint8Array.of(0x0c, 0x07) }), 'EINVAL'); // def_cfa cut short
    throwsCode(() => lib.addFunction('c', JIT_FP, { unwind: Uint8Array.of(0x3f) }), 'EINVAL'); // no such instruction
    throwsCode(() => lib.addData('d', Uint8Array.of(1), { unwind: 'frame-pointer' } as never), 'EINVAL');
    const f = lib.addFunction('f', JIT_FP, { unwind: 'frame-pointer' });
    throwsCode(() => lib.bind('f2', f + 2n, 4, undefined, { unwind: 'frame-pointer' }), 'EEXIST'); // overlaps f's rules
    throwsCode(() => lib.addFunction('f', JIT_FP, { unwind: 'frame-pointer' }), 'EEXIST'); // the name: the rules are rolled back
    assert.equal(
      lib.symbols().map((s) => s.name),
      ['f'],
    );
    const fdes = readElf(new Uint8Array(readFileSync(lib.path))).unwind!.ehFrame!.fdes.filter((d) => d.pc_range > 0n);
    assert.equal(
      fdes.map((d) => d.pc_begin),
      [f - lib.loadBase],
    );
  } finally {
    lib.delete();
  }
});

test('a thread unwinding through a running JIT function in a loop sees every trace complete while 10,000 other functions with rules are added, replaced and freed', async () => {
  if (!ready) return skipBecause('concurrent unwinding', 'needs x86_64 and g++');
  const lib = dlcreate('libunwind-churn.so', { maxSymbols: 4096, text: 1 << 20 });
  const c = koffi.load(cppLibrary('unwinder', CPP_THREAD));
  const start = c.func('int start_unwinding(void *f, unsigned long size)');
  const stop = c.func('unsigned long stop_unwinding(_Out_ unsigned long *out)');
  try {
    // Functions on both sides of the probed one, so that insertions land before, after and between.
    for (let i = 0; i < 50; i++) lib.addFunction(`low_${i}`, JIT_FP, { unwind: 'frame-pointer' });
    const fp = lib.addFunction('probed', JIT_NOFP, { unwind: NOFP_CFI });
    assert.is(start(fp, JIT_NOFP.length), 0);
    const live: bigint[] = [];
    let replaced = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = (i * 2654435761) >>> 0;
      if (live.length > 200 && r % 3 === 0) lib.free(live.splice(r % live.length, 1)[0]!);
      else if (live.length > 0 && r % 7 === 1) {
        // Same address, new rules: the FDE is repointed in place.
        const at = live[r % live.length]!;
        lib.bind(`re_${i}`, at, JIT_FP.length, undefined, {
          unwind: r % 2 === 0 ? 'frame-pointer' : cfi().advance(1).defCfaOffset(16).offset('rbp', -16).bytes(),
        });
        lib.unbind(`re_${i}`);
        replaced++;
      } else live.push(lib.addFunction(`churn_${i}`, r % 2 === 0 ? JIT_FP : JIT_NOFP, { unwind: r % 2 === 0 ? 'frame-pointer' : NOFP_CFI }));
      if (i % 1000 === 999) await new Promise((res) => setTimeout(res, 60)); // lets the table's rebuild timer run
    }
    // Functions bound at falling addresses inside one block use up the spare slots between
    // their neighbours: the search table is switched off (table_enc DW_EH_PE_omit, lookups
    // scan .eh_frame) and rewritten after the grace period, all while the thread unwinds.
    const tableEnc = () => readFileSync(lib.path)[Number(readElf(new Uint8Array(readFileSync(lib.path))).unwind!.ehFrameHdr!.address) + 3];
    const block = lib.alloc(JIT_FP.length * 16, SHF_EXECINSTR);
    for (let k = 0; k < 16; k++) lib.write(block + BigInt(k * JIT_FP.length), JIT_FP);
    for (let k = 15; k >= 0; k--) lib.bind(`split_${k}`, block + BigInt(k * JIT_FP.length), JIT_FP.length, undefined, { unwind: 'frame-pointer' });
    assert.is(tableEnc(), 0xff, 'the search table is off');
    await new Promise((res) => setTimeout(res, 100));
    assert.is(tableEnc(), 0x3b, 'the search table is back (DW_EH_PE_datarel|sdata4)');
    lib.free(block);
    await new Promise((res) => setTimeout(res, 100));
    const out = [0, 0, 0, 0];
    stop(out);
    const [rounds, broken, depth, throughJit] = out as [number, number, number, number];
    assert.ok(rounds > 100, `the thread unwound ${rounds} times`);
    assert.is(broken, 0, `${broken} of ${rounds} traces were cut short or missed the JIT frame`);
    assert.is(throughJit, rounds);
    assert.ok(depth >= 4, `depth ${depth}`);
    assert.ok(replaced > 100);
    // And what is left reads back whole.
    const u = readElf(new Uint8Array(readFileSync(lib.path))).unwind!;
    const fdes = u.ehFrame!.fdes.filter((d) => d.pc_range > 0n);
    assert.is(fdes.length, live.length + 51);
    const table = u.ehFrameHdr!.table;
    assert.ok(table.every((e, i) => i === 0 || table[i - 1]!.initial_loc <= e.initial_loc));
  } finally {
    lib.delete();
  }
});

test.run();
