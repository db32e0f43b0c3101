// Figure 10: what the call-time guard costs. A function made by lib.func (or
// dlfunc on an address inside a live library) checks at every call that its
// block was not freed and its library not deleted; the anchor is koffi's own
// call of the same address with the same prototype, in the same runs.
import { dlcreate, dldelete, dlfunc, getLibc } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { collect, time } from '../lib/stats.js';

const RUNS = 7;
// int add(int a, int b): lea eax, [rdi+rsi]; ret / add w0, w0, w1; ret
const ADD = process.arch === 'arm64' ? [0x00, 0x00, 0x01, 0x0b, 0xc0, 0x03, 0x5f, 0xd6] : [0x8d, 0x04, 0x37, 0xc3];

export function run(ctx: Context) {
  const n = ctx.quick ? 200_000 : 1_000_000;
  const f = new Figure(10, `Calls into JIT code: ${n.toLocaleString('en-US')} calls of int add(int, int), guarded and raw`, { callsPerRun: n, runs: RUNS });
  const lib = dlcreate();
  if (typeof (lib as { func?: unknown }).func !== 'function') return f.unavailable('this version of dlbind has no lib.func');
  const addr = lib.addFunction('add', ADD);
  const guarded = lib.func<(a: number, b: number) => number>(addr, 'int add(int a, int b)');
  const viaDlfunc = dlfunc<(a: number, b: number) => number>(addr, 'int add(int a, int b)');
  const c = getLibc();
  const proto = c.proto('int (int, int)');
  const koffi = c.koffi;
  const raw = (a: number, b: number) => koffi.call(addr, proto, a, b) as number;
  const samples = {
    guarded: f.measure({ id: 'guarded', label: 'lib.func(addr, sig): guarded call', show: 'time', per: 'call' }),
    dlfunc: f.measure({ id: 'dlfunc', label: 'dlfunc(addr, sig) into a live library: guarded call', show: 'time', per: 'call' }),
    raw: f.measure({ id: 'raw', label: 'koffi.call(addr, proto, ...): no guard (anchor)', show: 'time', per: 'call' }),
  };
  const fns = { guarded, dlfunc: viaDlfunc, raw };
  const loop = (fn: (a: number, b: number) => number): number => {
    let s = 0;
    const seconds = time(() => {
      for (let i = 0; i < n; i++) s += fn(i & 1023, 1);
    });
    if (s <= 0) throw new Error('add returned nonsense');
    return seconds / n;
  };
  for (const fn of Object.values(fns)) loop(fn);
  for (let r = 0; r < RUNS; r++) {
    for (const [id, fn] of Object.entries(fns)) {
      collect();
      samples[id as keyof typeof fns](loop(fn));
    }
  }
  if (guarded(40, 2) !== 42) throw new Error('add(40, 2) is not 42');
  dldelete(lib);
  f.ratio('guarded lib.func call vs raw koffi call', 'guarded', 'raw', { max: 1.1, text: '≤ 1.1' });
  f.ratio('guarded dlfunc call vs raw koffi call', 'dlfunc', 'raw', { max: 1.1, text: '≤ 1.1' });
  f.note(
    "The guard is one property load and a compare before koffi.call, in a closure of the prototype's arity (no rest array); the results of 64-bit and pointer returns are also normalised (bigint), which int add does not need.",
  );
  return f.result();
}
