// Figure 1: bind throughput. A million data symbols bound into one live
// library, against publishing symbols without dlbind: (a) an object written
// by buildSharedObject and dlopened, one symbol per object and 1,000 per
// object, and (b) gcc -shared from generated assembly, then dlopen. The C
// reference (bench/c/bind.c) makes a bind's table stores in C into a live
// library's own tables, the physical floor of the design.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JitLibrary, SHF_WRITE, buildSharedObject, dlalloc, dlbind, dlcreate, dldelete, dlsym, getLibc } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow, symbolNames } from '../lib/native.js';
import { collect, shuffled, time } from '../lib/stats.js';
import { benchDir, cHelper, run as runTool, writeDataAssembly } from '../lib/tools.js';

const RUNS = 5;
const WARM_UP = 20_000;
/** How long the cold children watch the event loop after their binds (the table's timer settles and retires then). */
const STALL_WATCH_MS = 1500;
const ZERO8 = new Uint8Array(8);

export function run(ctx: Context) {
  const n = ctx.quick ? 100_000 : 1_000_000;
  const perRun = { a1: ctx.quick ? 50 : 200, a1000: ctx.quick ? 2 : 5, b1: ctx.quick ? 2 : 5, b1000: 1 };
  const f = new Figure(1, `Bind throughput: ${n.toLocaleString('en-US')} data symbols into one live library`, {
    symbols: n,
    runs: RUNS,
    anchorObjectsPerRun: perRun,
  });
  const dlbindSample = f.measure({ id: 'dlbind', label: `dlbind(): ${n.toLocaleString('en-US')} 8-byte data symbols`, show: 'rate', per: 'bind' });
  const manySample = f.measure({ id: 'many', label: `bindMany(): the same ${n.toLocaleString('en-US')} symbols in one call`, show: 'rate', per: 'bind' });

  const names = symbolNames(n);
  const stringBytes = names.reduce((s, x) => s + Buffer.byteLength(x) + 1, 0);
  const addrs: bigint[] = new Array(n);
  const checked = shuffled(names.map((_, i) => i))
    .slice(0, 1000)
    .concat([0, n - 1]);
  let objects = 0;
  const dir = ctx.workDir;
  const cBind = cHelper(ctx.binDir, 'bind');
  const namesFile = join(dir, 'bind-names.txt');
  writeFileSync(namesFile, `${names.join('\n')}\n`);
  const cWarm = f.measure({
    id: 'c',
    label: `C reference: the table stores of ${n.toLocaleString('en-US')} binds, in C, into the same kind of library`,
    show: 'rate',
    per: 'bind',
  });
  const cCold = f.measure({
    id: 'c-cold',
    label: `C reference: the first ${WARM_UP.toLocaleString('en-US')} binds' table stores into a fresh default library`,
    show: 'rate',
    per: 'bind',
  });
  // The duplicate check as dlbind made it when issue 16 was filed: every bind walks its chain.
  const cWarmWalk = f.measure({
    id: 'c-walk',
    label: 'C reference as filed in issue 16: the same, every bind walking its chain (no bloom test first)',
    show: 'rate',
    per: 'bind',
  });
  const cColdWalk = f.measure({ id: 'c-cold-walk', label: 'the same into a fresh default library, every bind walking its chain', show: 'rate', per: 'bind' });
  const anchors = [
    { id: 'a1', label: '(a) buildSharedObject + write + dlopen, 1 symbol per .so', batch: 1, count: perRun.a1, make: viaWriter },
    { id: 'a1000', label: '(a) buildSharedObject + write + dlopen, 1,000 symbols per .so', batch: 1000, count: perRun.a1000, make: viaWriter },
    { id: 'b1', label: '(b) write .s + gcc -shared + dlopen, 1 symbol per .so', batch: 1, count: perRun.b1, make: viaGcc },
    { id: 'b1000', label: '(b) write .s + gcc -shared + dlopen, 1,000 symbols per .so', batch: 1000, count: perRun.b1000, make: viaGcc },
  ].map((a) => ({ ...a, sample: f.measure({ id: a.id, label: a.label, show: 'time', per: 'symbol' }) }));

  /** Binds the first `count` names into a fresh library (capacity raised to hold them) and returns the seconds the binds took. */
  const bindAll = (count: number, batch = false): number => {
    const lib = dlcreate(undefined, { maxSymbols: count, stringTableSize: stringBytes + 4096, data: 8 * count });
    const base = dlalloc(lib, 8 * count, SHF_WRITE);
    for (let i = 0; i < count; i++) addrs[i] = base + BigInt(8 * i);
    const batchNames = batch && count < n ? names.slice(0, count) : names;
    const batchAddrs = batch && count < n ? addrs.slice(0, count) : addrs;
    const sizes = new Uint32Array(count).fill(8);
    collect();
    const seconds = batch
      ? time(() => lib.bindMany(batchNames, batchAddrs, sizes))
      : time(() => {
          for (let i = 0; i < count; i++) dlbind(lib, names[i]!, addrs[i]!, 8);
        });
    for (const i of count === n ? checked : []) if (dlsym(lib, names[i]!) !== addrs[i]) throw new Error(`libc dlsym does not find ${names[i]} at its address`);
    if (dlsym(lib, 'not_bound_here') !== null) throw new Error('libc dlsym found a name that was never bound');
    dldelete(lib);
    return seconds;
  };
  /**
   * A library for the C reference, whose table keeps the bucket count its header gives ld.so at load
   * (2,048 at a million symbols): the C stores do not grow the bucket count as dlbind's binds do.
   */
  const fixedShape = (options: Parameters<typeof dlcreate>[1]): JitLibrary => {
    process.env.DLBIND_FIXED_BUCKETS = '1';
    try {
      return dlcreate(undefined, options);
    } finally {
      delete process.env.DLBIND_FIXED_BUCKETS;
    }
  };
  /** The warm C reference's library: sized as dlbind's warm runs size theirs. */
  const warmOptions = { maxSymbols: n, stringTableSize: stringBytes + 4096, data: 8 * n };
  /** The C reference: bench/c/bind.c binds the first `count` names into `lib`'s tables through its backing file; every name must then resolve through libc dlsym. Returns the seconds per bind. */
  const viaC = (lib: JitLibrary, count: number, walk = false): number => {
    const base = dlalloc(lib, 8 * count, SHF_WRITE);
    const out = runTool(cBind, [lib.path, namesFile, String(count), String(base - lib.loadBase), ...(walk ? ['walk'] : [])]);
    const { ns } = JSON.parse(out) as { ns: number };
    for (const i of count === n ? checked : [0, count >> 1, count - 1])
      if (dlsym(lib, names[i]!) !== base + BigInt(8 * i)) throw new Error(`libc dlsym does not find ${names[i]} where the C reference bound it`);
    dldelete(lib);
    return ns / 1e9 / count;
  };
  // Cold: the first 20,000 binds of a fresh process into a library created with no options, no warm-up.
  const cold = f.measure({
    id: 'cold',
    label: `cold: the first ${WARM_UP.toLocaleString('en-US')} binds in a fresh process, default library (maxSymbols raised to hold them where the default is smaller)`,
    show: 'rate',
    per: 'bind',
  });
  const coldMany = f.measure({
    id: 'cold-many',
    label: `cold, one bindMany: the same ${WARM_UP.toLocaleString('en-US')} symbols in one call in a fresh process`,
    show: 'rate',
    per: 'bind',
  });
  // The same stores as the C reference in plain JavaScript, with no library: what the cold row's goal leaves to the bind path.
  const jsFloor = f.measure({
    id: 'js-floor',
    label: `JS floor: the C reference's stores in plain JavaScript over typed arrays (bench/children/bind-floor.mjs), the first ${WARM_UP.toLocaleString('en-US')} in a fresh process`,
    show: 'rate',
    per: 'bind',
  });
  const floorChild = join(benchDir, 'children', 'bind-floor.mjs');
  // The same stores in WebAssembly, compiled before the first call: what the cold goal leaves to a bind path whose
  // stores ran in a module, as the offline writer's kernels do; bare, and behind the least a public bind checks and keeps.
  // A call into native code through koffi, with the name as a C string: what a bind whose stores ran in native code
  // would pay per call on top of the C reference's stores.
  const nativeCall = f.measure({
    id: 'native-call',
    label: `native call floor: libc strlen(name) through a koffi function (bench/children/koffi-call-floor.mjs), the first ${WARM_UP.toLocaleString('en-US')} calls in a fresh process`,
    show: 'time',
    per: 'call',
  });
  const nativeCallWarm = f.measure({
    id: 'native-call-warm',
    label: `the same, ${n.toLocaleString('en-US')} calls after ${WARM_UP.toLocaleString('en-US')} others`,
    show: 'time',
    per: 'call',
  });
  const nativeCallChild = join(benchDir, 'children', 'koffi-call-floor.mjs');
  const wasmFloor = f.measure({
    id: 'wasm-floor',
    label: `WebAssembly floor: the same stores in a WebAssembly module over its own memory (bench/children/bind-floor.wat), one call a bind, the first ${WARM_UP.toLocaleString('en-US')} in a fresh process`,
    show: 'rate',
    per: 'bind',
  });
  const wasmApiFloor = f.measure({
    id: 'wasm-api-floor',
    label: 'the same behind a minimal JavaScript bind (checks of library, name, bigint address and size; the name and an id kept)',
    show: 'rate',
    per: 'bind',
  });
  const wasmFloorChild = join(benchDir, 'children', 'bind-floor-wasm.mjs');
  // The same floors warm, for the warm goal: each child binds WARM_UP other names first, untimed, then n into fresh
  // tables shaped as the C reference's warm library.
  const jsFloorWarm = f.measure({
    id: 'js-floor-warm',
    label: `JS floor, warm: the same stores in plain JavaScript, ${n.toLocaleString('en-US')} binds after ${WARM_UP.toLocaleString('en-US')} others, in the warm C reference's table shape`,
    show: 'rate',
    per: 'bind',
  });
  const wasmFloorWarm = f.measure({
    id: 'wasm-floor-warm',
    label: 'WebAssembly floor, warm: the same, one call of the module a bind',
    show: 'rate',
    per: 'bind',
  });
  // After the burst, the table settles and retires old runs on its own timer, between the event
  // loop's other callbacks: the longest gap between two ticks of a 0 ms interval over the next
  // STALL_WATCH_MS is what a caller's event loop waits at worst. The same child with no binds is its floor.
  const stallAfter = f.measure({
    id: 'stall-after-cold',
    label: `the event loop's longest wait in the ${STALL_WATCH_MS.toLocaleString('en-US')} ms after the cold binds (a 0 ms setInterval's largest gap)`,
    show: 'time',
  });
  const stallIdle = f.measure({ id: 'stall-idle', label: 'the same in a fresh process that created the library and bound nothing', show: 'time' });
  const built = process.env.DLBIND_BENCH_LIBRARY;
  const coldScript = (binds: string) => `const d = await import(${JSON.stringify(built)}); const n = ${WARM_UP};
const names = Array.from({ length: n }, (_, i) => 'jit_obj_' + i);
const lib = d.dlcreate(undefined, d.DEFAULT_CAPACITY.maxSymbols < n ? { maxSymbols: n } : {}); const base = d.dlalloc(lib, 8 * n, d.SHF_WRITE); const addrs = names.map((_, i) => base + BigInt(8 * i)); const sizes = new Uint32Array(n).fill(8);
const t = performance.now(); ${binds}; const s = (performance.now() - t) / 1000;
let last = performance.now(); let stall = 0;
const tick = setInterval(() => { const now = performance.now(); if (now - last > stall) stall = now - last; last = now; }, 0);
await new Promise((r) => setTimeout(r, ${STALL_WATCH_MS})); clearInterval(tick);
${binds === '' ? '' : "if (d.dlsym(lib, names[n - 1]) !== addrs[n - 1]) throw new Error('last name not found');"} d.dldelete(lib); console.log(JSON.stringify({ s, stall: stall / 1000 }));`;
  /** The cold rows' children: fresh node processes (only with the bundle: a child through tsx would measure tsx). */
  const coldRun = (): void => {
    if (built === undefined) return;
    for (const [sample, stalls, binds] of [
      [cold, stallAfter, 'for (let i = 0; i < n; i++) d.dlbind(lib, names[i], addrs[i], 8)'],
      [coldMany, undefined, 'lib.bindMany(names, addrs, sizes)'],
      [undefined, stallIdle, ''],
    ] as const) {
      const p = spawnSync(process.execPath, ['--input-type=module', '-e', coldScript(binds)], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`cold bind child failed: ${p.stderr}`);
      const { s, stall } = JSON.parse(p.stdout.trim()) as { s: number; stall: number };
      sample?.(s / WARM_UP);
      stalls?.(stall);
    }
  };
  /**
   * The shape of the C reference's cold library (a fresh default one, bucket count fixed), for the
   * JS floor: its .gnu.hash header (nbuckets, symoffset, bloom words, bloom shift), read in memory
   * (the file is 600 MiB, nearly all of it holes).
   */
  const shapeOf = (options: Parameters<typeof dlcreate>[1]): number[] => {
    const lib = fixedShape(options);
    const gnu = lib.liveObject.layout.gnuHash;
    if (gnu === undefined) throw new Error('a live library without .gnu.hash');
    const header = Array.from(new Uint32Array(getLibc().view(lib.loadBase + BigInt(gnu.addr), 16)));
    dldelete(lib);
    return [header[0]!, header[2]!, header[3]!];
  };
  const floorShape = shapeOf({});
  /** The warm floors' shape: the C reference's warm library. */
  const warmFloorShape = shapeOf(warmOptions);
  /** The floors' children. */
  const floorRun = (): void => {
    const out = runTool(process.execPath, [floorChild, String(WARM_UP), ...floorShape.map(String)]);
    jsFloor(Number(out.trim()) / WARM_UP);
    for (const [sample, mode] of [
      [wasmFloor, 'stores'],
      [wasmApiFloor, 'api'],
    ] as const) {
      sample(Number(runTool(process.execPath, [wasmFloorChild, String(WARM_UP), ...floorShape.map(String), mode]).trim()) / WARM_UP);
    }
    const warmArgs = [String(n), ...warmFloorShape.map(String)];
    jsFloorWarm(Number(runTool(process.execPath, [floorChild, ...warmArgs, String(WARM_UP)]).trim()) / n);
    nativeCall(Number(runTool(process.execPath, [nativeCallChild, String(WARM_UP)]).trim()) / WARM_UP);
    nativeCallWarm(Number(runTool(process.execPath, [nativeCallChild, String(n), String(WARM_UP)]).trim()) / n);
    wasmFloorWarm(Number(runTool(process.execPath, [wasmFloorChild, ...warmArgs, 'stores', String(WARM_UP)]).trim()) / n);
  };

  // Warm-up, untimed: the bind path and both writers compiled, gcc's files in the page cache.
  bindAll(WARM_UP);
  bindAll(WARM_UP, true);
  for (const a of anchors) publish(dir, `warm-${a.id}`, names, a.batch, 1, a.make);

  for (let r = 0; r < RUNS; r++) {
    const seconds = bindAll(n);
    dlbindSample(seconds / n);
    ctx.log(`run ${r + 1}: dlbind ${Math.round(n / seconds).toLocaleString('en-US')} binds/s, ${checked.length} checked through libc dlsym`);
    collect();
    manySample(bindAll(n, true) / n);
    collect();
    cWarm(viaC(fixedShape(warmOptions), n));
    cWarmWalk(viaC(fixedShape(warmOptions), n, true));
    coldRun();
    floorRun();
    cCold(viaC(fixedShape({}), WARM_UP));
    cColdWalk(viaC(fixedShape({}), WARM_UP, true));

    // The anchors, each timed from nothing to a loaded object: (a) the offline writer, (b) gcc.
    for (const a of anchors) {
      a.sample(publish(dir, `${a.id}-${r}`, names, a.batch, a.count, a.make));
      objects += a.count;
    }
    collect();
  }

  f.goal('dlbind', { max: 1 / 3_000_000, text: '≥ 3,000,000 binds/s' });
  f.ratio('cold vs warm binds', 'cold', 'dlbind');
  f.ratio('dlbind (warm) vs the C reference', 'dlbind', 'c', { max: 1.5, text: '≤ 1.5× the C reference' });
  f.ratio('cold binds vs the C reference, first 20,000', 'cold', 'c-cold', { max: 4, text: '≤ 4× the C reference' });
  f.ratio('dlbind (warm) vs the C reference as filed (every chain walked)', 'dlbind', 'c-walk');
  f.ratio('cold binds vs the C reference as filed (every chain walked), first 20,000', 'cold', 'c-cold-walk');
  f.ratio('JS floor vs the C reference, first 20,000 (what plain JavaScript costs for the same stores)', 'js-floor', 'c-cold');
  f.ratio('cold binds vs the JS floor, first 20,000 (what the bind path adds)', 'cold', 'js-floor');
  f.ratio('WebAssembly floor vs the C reference, first 20,000 (the same stores compiled before their first call)', 'wasm-floor', 'c-cold');
  f.ratio('minimal JavaScript bind over the WebAssembly floor vs the C reference, first 20,000', 'wasm-api-floor', 'c-cold');
  f.ratio('JS floor (warm) vs the C reference (what plain JavaScript costs for the same stores, compiled)', 'js-floor-warm', 'c');
  f.ratio('dlbind (warm) vs the warm JS floor (what the bind path adds)', 'dlbind', 'js-floor-warm');
  f.ratio('WebAssembly floor (warm) vs the C reference', 'wasm-floor-warm', 'c');
  f.ratio("native call floor vs the C reference's cold stores, first 20,000 (a native bind path pays this and the stores)", 'native-call', 'c-cold');
  f.ratio("native call floor (warm) vs the C reference's warm stores", 'native-call-warm', 'c');
  f.ratio('bindMany (warm) vs the C reference', 'many', 'c');
  f.ratio('cold bindMany vs the C reference, first 20,000', 'cold-many', 'c-cold');
  f.ratio("the event loop's longest wait after the cold binds vs with none", 'stall-after-cold', 'stall-idle');
  f.ratio('dlbind vs (a), 1 symbol per .so', 'dlbind', 'a1', { max: 1 / 1000, text: '≥ 1,000× faster per symbol' });
  f.ratio('dlbind vs (a), 1,000 symbols per .so', 'dlbind', 'a1000');
  f.ratio('dlbind vs (b), 1 symbol per .so', 'dlbind', 'b1');
  f.ratio('dlbind vs (b), 1,000 symbols per .so', 'dlbind', 'b1000');
  f.note(
    `dlbind timed alone: names and bigint addresses are made before the clock starts, dlcreate/dlalloc and dldelete are outside it, and one untimed warm-up (${WARM_UP.toLocaleString('en-US')} binds, one object of each anchor) comes first; after each run ${checked.length} names (random, first, last) are checked through libc dlsym.`,
  );
  f.note(
    `Cold: ${RUNS} fresh node processes per row, each importing the library, creating a library with no options and timing its first ${WARM_UP.toLocaleString('en-US')} binds, one dlbind() call each or one bindMany() of columns made before the clock starts (the bind path not yet compiled by V8, every table page touched for the first time). The dlbind() children then watch the event loop for ${STALL_WATCH_MS.toLocaleString('en-US')} ms, while the table's unref'd timer splits shared runs and retires old ones: the longest gap between ticks of a 0 ms setInterval, against the same child that bound nothing.`,
  );
  f.note(
    `C reference: bench/c/bind.c (gcc -O2) maps the library's backing file (/proc/<pid>/fd/<n>) MAP_SHARED, reads the table's shape from its section headers and, timed with clock_gettime, makes each bind's table stores as src/loader/symtab.ts makes them (GNU hash, the duplicate check: bloom bits, then the chain only where both are set, name copied into .dynstr, the Elf64_Sym, hash word and end bit, bloom bits, the publishing store, a full run copied to a fresh one); the bench then finds the names through libc dlsym. The 'as filed' rows walk every bind's chain, as dlbind's duplicate check did before it asked the bloom filter first. Warm row: the same library shape as dlbind's warm runs, in the same runs; cold row: a fresh default library, as the cold row's. Both include the first touch of every table page, as dlbind's rows do. The C reference's libraries are made with DLBIND_FIXED_BUCKETS=1: their bucket count stays at the one ld.so took at load (2,048 for a million symbols, the default), since the C stores do not grow it; dlbind's binds grow theirs from 16 on (src/loader/symtab.ts), which includes copying runs out of the slots the buckets grow over and splitting shared runs.`,
  );
  f.note(
    `JS floor: bench/children/bind-floor.mjs makes the C reference's stores (the same algorithm, line for line) in plain JavaScript over fresh typed arrays shaped as the C reference's cold library (its bucket count, bloom size and shift), with no library around them and no checks but the duplicate check, timing the first ${WARM_UP.toLocaleString('en-US')} in a fresh node process (${RUNS} processes). It bounds from below what any JavaScript bind path can reach before V8 has compiled it; the cold goal of 4× the C reference lies below it on this machine when the floor's ratio is above 4. Its warm row (and the WebAssembly floor's) binds ${WARM_UP.toLocaleString('en-US')} other names first, untimed, in tables of their own, then ${n.toLocaleString('en-US')} into fresh tables shaped as the warm C reference's library (pages never touched, as that library's are): the floor under the warm goal once V8 has compiled the stores.`,
  );
  f.note(
    `WebAssembly floor: bench/children/bind-floor-wasm.mjs makes the same stores in bind-floor.wat (compiled by wabt before the clock starts) over the module's own memory, shaped as the JS floor's tables; each bind copies the name's bytes in with Buffer#latin1Write and calls the module once. Its second row wraps that in the least a public bind does in JavaScript (an instanceof and liveness check, the name's, the bigint address's inside the library, the size's, the offset made from the address, the name and an id kept). A JIT library's tables can be such a module's memory: a memfd's pages map MAP_SHARED over a WebAssembly.Memory's pages (checked by hand, not by the bench), so these rows bound from below what a bind path built on such a module could reach; dlbind's is not (yet) one.`,
  );
  f.note(
    `Native call floor: bench/children/koffi-call-floor.mjs calls libc's strlen through a koffi function (koffi.load('libc.so.6').func), the name passed as a const char * that koffi copies out of V8, the first ${WARM_UP.toLocaleString('en-US')} calls of a fresh process, and ${n.toLocaleString('en-US')} after ${WARM_UP.toLocaleString('en-US')} others. A bind path whose stores ran in native code (machine code in the library, as the C reference's) would pay this per call and the C reference's stores on top; its ratio plus one bounds such a path from below.`,
  );
  f.note(
    `Anchors publish the same kind of symbol (8 zero bytes in .data) and load it with libc dlopen (RTLD_NOW | RTLD_LOCAL) through koffi; their time includes writing the file (to ${tmpdir()}) and excludes dlclose. ${objects} anchor objects in all.`,
  );
  return f.result();
}

/** Writes `<stem>.so` with the offline writer. */
function viaWriter(stem: string, names: readonly string[]): string {
  writeFileSync(`${stem}.so`, buildSharedObject({ symbols: names.map((name) => ({ name, section: 'data' as const, bytes: ZERO8 })) }));
  return `${stem}.so`;
}

/** Writes `<stem>.s` and links `<stem>.so` with gcc -shared. */
function viaGcc(stem: string, names: readonly string[]): string {
  writeDataAssembly(`${stem}.s`, names);
  runTool('gcc', ['-shared', '-o', `${stem}.so`, `${stem}.s`], { quiet: true });
  return `${stem}.so`;
}

/**
 * Publishes `count` objects of `batch` names each with `make`, then dlopens
 * each; returns the seconds per symbol. Every object must then resolve its
 * first and last name; dlclose is outside the clock.
 */
function publish(
  dir: string,
  tag: string,
  names: readonly string[],
  batch: number,
  count: number,
  make: (stem: string, names: readonly string[]) => string,
): number {
  const handles: bigint[] = [];
  let total = 0;
  for (let k = 0; k < count; k++) {
    const some = names.slice(k * batch, (k + 1) * batch);
    total += time(() => handles.push(dlopenOrThrow(make(join(dir, `${tag}-${k}`), some))));
  }
  handles.forEach((h, k) => {
    for (const i of [k * batch, (k + 1) * batch - 1])
      if (dlsym(h, names[i]!) === null) throw new Error(`anchor object ${tag}-${k} does not define ${names[i]}`);
  });
  dlcloseAll(handles);
  return total / (count * batch);
}
