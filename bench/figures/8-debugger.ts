// Figure 8: what telling debuggers costs. With none attached, binds mark the
// library for one link-map re-announcement per event-loop turn (lib.flush()
// does it at once); dlcreate's `debug` option chooses 'auto' (the default:
// only while a debugger listens), 'always', or 'off'. With gdb or lldb
// attached (bench/children/debugger.ts run under each), a change is announced
// before the next call through dlfunc: measured per bind for a bind followed
// by a call each time, and for many binds followed by one call.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JitLibrary, SHF_WRITE, dlalloc, dlbind, dlcreate, dldelete } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { symbolNames } from '../lib/native.js';
import { collect, now } from '../lib/stats.js';
import { benchDir, have, run as runTool } from '../lib/tools.js';

const RUNS = 5;
/** Rounds of bind + call, and binds before one call, per child run under each debugger (an announcement costs milliseconds there). */
const ATTACHED = { none: { each: 1000, bulk: 10_000 }, gdb: { each: 100, bulk: 1000 }, lldb: { each: 20, bulk: 200 } } as const;
type Attached = keyof typeof ATTACHED;

interface ChildReport {
  tracer: number;
  off: { each: number; bulk: number };
  auto: { each: number; bulk: number };
}

/** The child run with no debugger, under gdb (batch, attached from the start), or under lldb. */
function runChild(under: Attached): ChildReport {
  const { each, bulk } = ATTACHED[under];
  const child = [process.execPath, '--import', 'tsx', join(benchDir, 'children', 'debugger.ts'), String(each), String(bulk)];
  const args: Record<Attached, [string, string[]]> = {
    none: [child[0]!, child.slice(1)],
    gdb: ['gdb', ['-nx', '-batch', '-ex', 'run', '--args', ...child]],
    lldb: ['lldb', ['-b', '-o', 'run', '--', ...child]],
  };
  const [cmd, argv] = args[under];
  const out = runTool(cmd, argv);
  const line = out.split('\n').find((l) => l.startsWith('@@bench '));
  if (line === undefined) throw new Error(`figure 8: no result from the child under ${under}:\n${out.slice(-2000)}`);
  const report = JSON.parse(line.slice('@@bench '.length)) as ChildReport;
  if ((under === 'none') !== (report.tracer === 0)) throw new Error(`figure 8: the child under ${under} saw tracer ${report.tracer}`);
  return report;
}

const MODES = ['off', 'auto', 'always'] as const;
type Mode = (typeof MODES)[number];

/** Lets the turn end, so that the announcement a bind scheduled runs outside the clock. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function run(ctx: Context) {
  const n = ctx.quick ? 20_000 : 100_000;
  const flushes = ctx.quick ? 200 : 1000;
  const f = new Figure(8, 'Debugger announcements: binds with no debugger attached (announcements on and off, one flush), and with gdb or lldb attached', {
    bindsPerRun: n,
    flushesPerRun: flushes,
    runs: RUNS,
    attached: ATTACHED,
  });
  const probe = dlcreate();
  const available = typeof (probe as Partial<JitLibrary>).flush === 'function' && (probe as { debugMode?: unknown }).debugMode !== undefined;
  dldelete(probe);
  if (!available) return f.unavailable('this version of dlbind has no lib.flush() or dlcreate debug option yet');
  const tracer = /^TracerPid:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  if (tracer !== '0') return f.unavailable(`a tracer (pid ${tracer}) is attached to the bench; this figure is about the cost without one`);

  const label: Record<Mode, string> = { off: "debug: 'off'", auto: "debug: 'auto' (default)", always: "debug: 'always'" };
  const loop = Object.fromEntries(
    MODES.map((m) => [m, f.measure({ id: `loop-${m}`, label: `${n.toLocaleString('en-US')} binds in one turn, ${label[m]}`, show: 'time', per: 'bind' })]),
  );
  const batch1 = Object.fromEntries(
    MODES.map((m) => [m, f.measure({ id: `b1-${m}`, label: `batches of 1: bind + flush(), ${label[m]}`, show: 'time', per: 'bind' })]),
  );
  const batch1000 = Object.fromEntries(
    MODES.map((m) => [m, f.measure({ id: `b1000-${m}`, label: `batches of 1,000: 1,000 binds + flush(), ${label[m]}`, show: 'time', per: 'bind' })]),
  );
  const flush = Object.fromEntries(
    MODES.map((m) => [m, f.measure({ id: `flush-${m}`, label: `one flush() after a bind, ${label[m]}`, show: 'time', per: 'flush' })]),
  );

  const names = symbolNames(n + flushes);
  const make = (mode: Mode, symbols: number): { lib: JitLibrary; addr: (i: number) => bigint } => {
    const lib = dlcreate(undefined, { debug: mode, maxSymbols: symbols, stringTableSize: 16 * symbols + 4096, data: 8 * symbols });
    const base = dlalloc(lib, 8 * symbols, SHF_WRITE);
    const addrs = Array.from({ length: symbols }, (_, i) => base + BigInt(8 * i));
    return { lib, addr: (i) => addrs[i]! };
  };
  const ignore = (_sample: number): void => {};

  /** One run of every measurement in one mode; `keep` is false for the warm-up. */
  const measureMode = async (mode: Mode, binds: number, flushCount: number, keep: boolean): Promise<void> => {
    // One long synchronous loop: the announcement it schedules runs after the clock stops.
    let { lib, addr } = make(mode, binds);
    collect();
    let t0 = now();
    for (let i = 0; i < binds; i++) dlbind(lib, names[i]!, addr(i), 8);
    (keep ? loop[mode]! : ignore)((now() - t0) / binds);
    await nextTurn();
    dldelete(lib);

    // Batches: each batch of binds followed by flush(), as a caller about to run new code would do.
    for (const [size, sample] of [
      [1, batch1[mode]!],
      [1000, batch1000[mode]!],
    ] as const) {
      ({ lib, addr } = make(mode, binds));
      const batches = size === 1 ? flushCount : Math.floor(binds / size);
      collect();
      let i = 0;
      t0 = now();
      for (let b = 0; b < batches; b++) {
        for (let k = 0; k < size; k++, i++) dlbind(lib, names[i]!, addr(i), 8);
        lib.flush();
      }
      (keep ? sample : ignore)((now() - t0) / i);
      await nextTurn();
      dldelete(lib);
    }

    // One flush alone, right after a bind that marked the library.
    ({ lib, addr } = make(mode, flushCount));
    let total = 0;
    for (let i = 0; i < flushCount; i++) {
      dlbind(lib, names[i]!, addr(i), 8);
      t0 = now();
      lib.flush();
      total += now() - t0;
    }
    (keep ? flush[mode]! : ignore)(total / flushCount);
    await nextTurn();
    dldelete(lib);
  };

  for (const mode of MODES) await measureMode(mode, 5000, 50, false);
  for (let r = 0; r < RUNS; r++) {
    // The order of the modes turns with each run, so that none always goes first.
    for (let k = 0; k < MODES.length; k++) await measureMode(MODES[(r + k) % MODES.length]!, n, flushes, true);
    ctx.log(`run ${r + 1} done`);
  }
  // With a debugger attached: each run starts the child afresh under each debugger in turn.
  const debuggers = (['gdb', 'lldb'] as const).filter((d) => have(d));
  const attached: Record<string, (sample: number) => void> = {};
  for (const under of ['none', ...debuggers] as const) {
    const who = under === 'none' ? 'no debugger' : `${under} attached`;
    const { each, bulk } = ATTACHED[under];
    for (const mode of ['off', 'auto'] as const) {
      const tag = mode === 'off' ? "debug: 'off'" : "debug: 'auto' (default)";
      attached[`${under}-each-${mode}`] = f.measure({
        id: `${under}-each-${mode}`,
        label: `${who}: bind + call through dlfunc, ${each} times, ${tag}`,
        show: 'time',
        per: 'bind',
      });
      attached[`${under}-bulk-${mode}`] = f.measure({
        id: `${under}-bulk-${mode}`,
        label: `${who}: ${bulk.toLocaleString('en-US')} binds, then one call, ${tag}`,
        show: 'time',
        per: 'bind',
      });
    }
  }
  for (let r = 0; r < RUNS; r++) {
    for (const under of ['none', ...debuggers] as const) {
      const report = runChild(under);
      for (const mode of ['off', 'auto'] as const) {
        attached[`${under}-each-${mode}`]!(report[mode].each);
        attached[`${under}-bulk-${mode}`]!(report[mode].bulk);
      }
    }
    ctx.log(`attached run ${r + 1} done (${['none', ...debuggers].join(', ')})`);
  }
  for (const under of ['none', ...debuggers] as const) {
    const who = under === 'none' ? 'no debugger' : `${under} attached`;
    f.ratio(`${who}: bind + call, 'auto' vs 'off'`, `${under}-each-auto`, `${under}-each-off`);
    f.ratio(`${who}: many binds then one call, 'auto' vs 'off'`, `${under}-bulk-auto`, `${under}-bulk-off`);
  }
  if (debuggers.length < 2) f.note(`Not installed here, so not measured attached: ${['gdb', 'lldb'].filter((d) => !have(d)).join(', ')}.`);
  f.note(
    "Attached: the child process (bench/children/debugger.ts) runs under gdb -batch or lldb -b from its start, so the debugger listens at r_brk; with 'auto' each call through dlfunc that follows a bind makes one announcement (four stops at _dl_debug_state, and the debugger rereads the library's symbols), and many binds before one call share one. 'off' in the same process is the anchor. Each sample is one child's total divided by its binds, after an untimed warm-up of both modes.",
  );
  for (const mode of ['auto', 'always'] as const) {
    f.ratio(`binds in one turn, ${label[mode]} vs 'off'`, `loop-${mode}`, 'loop-off');
    f.ratio(`batches of 1, ${label[mode]} vs 'off'`, `b1-${mode}`, 'b1-off');
    f.ratio(`batches of 1,000, ${label[mode]} vs 'off'`, `b1000-${mode}`, 'b1000-off');
    f.ratio(`one flush(), ${label[mode]} vs 'off'`, `flush-${mode}`, 'flush-off');
  }
  f.note(
    "No tracer is attached (TracerPid 0), so 'auto' finds none at each announcement and re-announces nothing; 'always' really unlinks and relinks the link_map and calls ld.so's debugger hook (_dl_debug_state) four times each time. flush() with 'off' announces nothing, so 'off' is the anchor.",
  );
  f.note(
    `Every sample is one run's total divided by its binds (or flushes); the loops and batches bind into data blocks of a library with room for ${n.toLocaleString('en-US')} symbols. One untimed warm-up run of every mode comes first, and the order of the modes turns from run to run.`,
  );
  return f.result();
}
