// Shared by the unwind tests: hand-encoded x86_64 JIT functions that call a
// callback (checked with objdump in tests/unwind-elf.test.ts), their CFI, the
// C++ programs that throw through them, and readelf's view of .eh_frame.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { formatCfaInstruction } from '../../src/elf/cfi.js';
import { cfi, readElf } from '../../src/index.js';
import { mustRun, run } from './tools.js';

/** void jit_fp(void (*cb)(void)): push rbp; mov rbp, rsp; call rdi; pop rbp; ret */
export const JIT_FP = Uint8Array.of(0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3);
/**
 * void jit_nofp(void (*cb)(void)), no frame pointer, rbp an ordinary register
 * holding the callback: push rbx; push rbp; sub rsp, 8; mov rbp, rdi; call rbp;
 * add rsp, 8; pop rbp; pop rbx; ret
 */
export const JIT_NOFP = Uint8Array.of(0x53, 0x55, 0x48, 0x83, 0xec, 0x08, 0x48, 0x89, 0xfd, 0xff, 0xd5, 0x48, 0x83, 0xc4, 0x08, 0x5d, 0x5b, 0xc3);
/** JIT_NOFP's rules, through the builder. */
export const NOFP_CFI = cfi('x86_64')
  .advance(1)
  .defCfaOffset(16)
  .offset('rbx', -16)
  .advance(1)
  .defCfaOffset(24)
  .offset('rbp', -24)
  .advance(4)
  .defCfaOffset(32)
  .bytes();

export const x86 = process.arch === 'x64' && process.platform === 'linux';

/**
 * The C++ side: `thrower` throws, `counter` records glibc backtrace() and
 * _Unwind_Backtrace frame counts, `stop_here` is where gdb stops, `control`
 * is a gcc-compiled function of the JIT functions' shape.
 */
export const CPP_SIDE = `
#include <cstdio>
#include <stdexcept>
#include <execinfo.h>
#include <unwind.h>
static _Unwind_Reason_Code count_frame(struct _Unwind_Context *, void *n) { ++*(int *)n; return _URC_NO_REASON; }
extern "C" int bt_frames, unwind_frames;
int bt_frames, unwind_frames;
extern "C" void thrower() { throw std::runtime_error("through JIT code"); }
extern "C" void counter() { void *buf[128]; bt_frames = backtrace(buf, 128); unwind_frames = 0; _Unwind_Backtrace(count_frame, &unwind_frames); }
extern "C" __attribute__((noinline)) void stop_here() { asm volatile(""); }
extern "C" void stopper() { stop_here(); }
extern "C" __attribute__((noinline)) void control(void (*cb)()) { cb(); asm volatile(""); }
typedef void (*jit_fn)(void (*)());
extern "C" int catch_through(jit_fn f) {
  try { f(thrower); } catch (const std::runtime_error &e) { return 1; }
  return 0;
}
extern "C" int frames_through(jit_fn f) { f(counter); return bt_frames * 1000 + unwind_frames; }
extern "C" void stop_through(jit_fn f) { f(stopper); }
extern "C" void *control_address() { return (void *)control; }
`;

/**
 * A thread that unwinds through a JIT function in a loop: each round calls
 * \`jit(probe)\`, and probe runs _Unwind_Backtrace, checking that the trace
 * passes through the JIT function and is as deep as the first one was.
 */
export const CPP_THREAD = `${CPP_SIDE}
#include <pthread.h>
#include <atomic>
static std::atomic<bool> stop_flag;
static pthread_t thread;
static jit_fn target;
static unsigned long rounds, broken, first_depth, through_jit;
static unsigned long jit_lo, jit_hi;
struct walk { int n; bool in_jit; };
static _Unwind_Reason_Code step(struct _Unwind_Context *c, void *p) {
  walk *w = (walk *)p; int before = 0;
  unsigned long ip = _Unwind_GetIPInfo(c, &before);
  if (ip > jit_lo && ip <= jit_hi) w->in_jit = true;
  w->n++;
  return _URC_NO_REASON;
}
extern "C" void probe() {
  walk w = {0, false};
  _Unwind_Backtrace(step, &w);
  if (first_depth == 0) first_depth = w.n;
  if (!w.in_jit || (unsigned long)w.n != first_depth) broken++;
  if (w.in_jit) through_jit++;
}
static void *loop(void *) { while (!stop_flag.load()) { target(probe); rounds++; } return 0; }
extern "C" int start_unwinding(jit_fn f, unsigned long size) {
  target = f; jit_lo = (unsigned long)f; jit_hi = jit_lo + size; stop_flag = false;
  rounds = broken = first_depth = through_jit = 0;
  return pthread_create(&thread, 0, loop, 0);
}
extern "C" unsigned long stop_unwinding(unsigned long *out) {
  stop_flag = true; pthread_join(thread, 0);
  out[0] = rounds; out[1] = broken; out[2] = first_depth; out[3] = through_jit;
  return rounds;
}
`;

/** A C++ program calling `jit_fp`, `jit_nofp` (from a library) or `control`, chosen by argv[1]; argv[2] is 'throw', 'count' or 'stop'. */
export const CPP_HOST = `${CPP_SIDE}
#include <cstring>
extern "C" void jit_fp(void (*)());
extern "C" void jit_nofp(void (*)());
int main(int argc, char **argv) {
  jit_fn f = !strcmp(argv[1], "nofp") ? jit_nofp : !strcmp(argv[1], "control") ? control : jit_fp;
  if (!strcmp(argv[2], "count")) { int n = frames_through(f); printf("frames %d %d\\n", n / 1000, n % 1000); return 0; }
  if (!strcmp(argv[2], "stop")) { stop_through(f); return 0; }
  int caught = catch_through(f);
  printf("caught %d\\n", caught);
  return caught ? 0 : 1;
}
`;

/** Compiles CPP_HOST against `lib` (a directory holding lib<name>.so). */
export function compileHost(dir: string, libDir: string, libName: string, out: string): string {
  const src = join(dir, 'unwind-host.cpp');
  writeFileSync(src, CPP_HOST);
  mustRun('g++', ['-O1', '-g', '-o', out, src, `-L${libDir}`, `-l${libName}`, `-Wl,-rpath,${libDir}`], { cwd: dir });
  return out;
}

/** Runs the host: every variant's exception is caught, and its frame counts equal the gcc-compiled control's. */
export function assertHostUnwinds(host: string): void {
  const control = mustRun(host, ['control', 'count']).stdout.trim();
  assert.match(control, /^frames \d+ \d+$/);
  for (const variant of ['fp', 'nofp']) {
    const r = run(host, [variant, 'throw']);
    assert.is(r.stdout.trim(), 'caught 1', `${variant}: ${r.stderr}`);
    assert.is(r.status, 0);
    assert.is(mustRun(host, [variant, 'count']).stdout.trim(), control, `${variant}: backtrace() and _Unwind_Backtrace frame counts`);
  }
}

/** Runs the host built against an object without unwind rules: the exception ends in terminate. */
export function assertHostTerminates(host: string): void {
  for (const variant of ['fp', 'nofp']) {
    const r = run(host, [variant, 'throw']);
    assert.is(r.signal, 'SIGABRT', `${variant}: expected terminate, got ${r.status} ${r.stdout}`);
    assert.match(r.stderr, /terminate called after throwing an instance of 'std::runtime_error'/);
  }
}

/** gdb's `bt` stopped in stop_here below `variant`'s JIT function. */
export function gdbBacktrace(host: string, variant: string): string {
  const r = run('gdb', ['-nx', '-batch', '-ex', 'break stop_here', '-ex', 'run', '-ex', 'bt', '--args', host, variant, 'stop'], { timeoutMs: 120_000 });
  return r.stdout + r.stderr;
}

/** The backtrace names the JIT function, reaches main, and has no ?? frame and no "Backtrace stopped". */
export function assertGdbBacktrace(bt: string, jitName: string): void {
  const frames = bt.split('\n').filter((l) => /^#\d+/.test(l));
  assert.ok(frames.length >= 4, bt);
  assert.ok(
    frames.some((l) => l.includes(` ${jitName} `) || l.includes(` ${jitName}(`) || l.endsWith(` ${jitName}`)),
    `no frame names ${jitName}:\n${bt}`,
  );
  assert.ok(
    frames.some((l) => / main /.test(l) || / main\(/.test(l)),
    `the backtrace does not reach main:\n${bt}`,
  );
  assert.not.match(bt, /\?\?/, bt);
  assert.not.match(bt, /Backtrace stopped/, bt);
}

/** readelf's list without the trailing DW_CFA_nop padding (readElf leaves it out). */
function withoutPadding(list: string[]): string[] {
  let n = list.length;
  while (n > 0 && list[n - 1] === 'DW_CFA_nop') n--;
  return list.slice(0, n);
}

/** One record of `readelf -wf`. */
export interface ReadelfFrame {
  offset: number;
  kind: 'CIE' | 'FDE' | 'ZERO';
  cie?: number;
  pcBegin?: bigint;
  pcEnd?: bigint;
  /** "DW_CFA_..." lines, with readelf's " to <address>" dropped. */
  instructions: string[];
  fields: Record<string, string>;
}

/** Parses `readelf -wf` (or aarch64-linux-gnu-readelf) for the .eh_frame section. */
export function readelfFrames(path: string, readelf = 'readelf'): ReadelfFrame[] {
  // readelf exits 1 over unrelated warnings on some system libraries; its .eh_frame dump is still whole.
  const text = run(readelf, ['-wf', path]).stdout;
  const start = text.indexOf('Contents of the .eh_frame section');
  assert.ok(start >= 0, `readelf shows no .eh_frame in ${path}`);
  const out: ReadelfFrame[] = [];
  let cur: ReadelfFrame | undefined;
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (line.startsWith('Contents of the ')) break;
    let m = /^([0-9a-f]{8,}) [0-9a-f]+ ([0-9a-f]+) FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (m) {
      cur = {
        offset: parseInt(m[1]!, 16),
        kind: 'FDE',
        cie: parseInt(m[3]!, 16),
        pcBegin: BigInt(`0x${m[4]}`),
        pcEnd: BigInt(`0x${m[5]}`),
        instructions: [],
        fields: {},
      };
      out.push(cur);
      continue;
    }
    m = /^([0-9a-f]{8,}) [0-9a-f]+ [0-9a-f]+ CIE/.exec(line);
    if (m) {
      cur = { offset: parseInt(m[1]!, 16), kind: 'CIE', instructions: [], fields: {} };
      out.push(cur);
      continue;
    }
    m = /^([0-9a-f]{8,}) ZERO terminator/.exec(line);
    if (m) {
      cur = { offset: parseInt(m[1]!, 16), kind: 'ZERO', instructions: [], fields: {} };
      out.push(cur);
      continue;
    }
    if (cur === undefined) continue;
    const ins = /^ {2}(DW_CFA_\S.*)$/.exec(line);
    if (ins) cur.instructions.push(ins[1]!.replace(/ to [0-9a-f]+$/, '').trim());
    const field = /^ {2}([A-Za-z][A-Za-z ]+):\s+(.*)$/.exec(line);
    if (field) cur.fields[field[1]!] = field[2]!.trim();
  }
  return out;
}

/**
 * readElf's .eh_frame against readelf's: the same CIEs and FDEs at the same
 * offsets with the same PC ranges and, with `rules`, the same instructions.
 */
export function assertAgreesWithReadelf(path: string, bytes: Uint8Array, options: { rules: boolean; readelf?: string }): void {
  const mine = readElf(bytes).unwind?.ehFrame;
  assert.ok(mine, `readElf found no .eh_frame in ${path}`);
  const theirs = readelfFrames(path, options.readelf);
  const fdes = theirs.filter((f) => f.kind === 'FDE');
  const cies = theirs.filter((f) => f.kind === 'CIE');
  assert.equal(
    mine.cies.map((c) => c.offset),
    cies.map((c) => c.offset),
    'CIE offsets',
  );
  assert.is(mine.fdes.length, fdes.length, 'FDE count');
  const machine = readElf(bytes).machine;
  for (let i = 0; i < fdes.length; i++) {
    const a = mine.fdes[i]!;
    const b = fdes[i]!;
    assert.is(a.offset, b.offset);
    assert.is(a.cieOffset, b.cie);
    assert.is(a.pc_begin, b.pcBegin);
    assert.is(a.pc_begin + a.pc_range, b.pcEnd);
    if (options.rules)
      assert.equal(
        a.instructions.map((x) => formatCfaInstruction(machine, x)),
        withoutPadding(b.instructions),
        `FDE at 0x${a.offset.toString(16)}`,
      );
  }
  if (options.rules)
    for (let i = 0; i < cies.length; i++) {
      const c = mine.cies[i]!;
      assert.is(String(c.code_alignment_factor), cies[i]!.fields['Code alignment factor']);
      assert.is(String(c.data_alignment_factor), cies[i]!.fields['Data alignment factor']);
      assert.is(String(c.return_address_register), cies[i]!.fields['Return address column']);
      assert.equal(
        c.initialInstructions.map((x) => formatCfaInstruction(machine, x)),
        withoutPadding(cies[i]!.instructions),
      );
    }
}
