// Figure 4: dlcreate latency. Create, load and delete a library with the
// default capacity, against building and loading an empty object with the
// native toolchain (gcc -shared of an empty file, dlopen, dlclose), with
// dlbind's own offline writer, and against the floor: the same system calls
// made from C (bench/c/create.c) on the same zygote. Its cold rows time the
// first dlcreate of fresh processes, bare and beside a heap of live objects.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CAPACITY, buildSharedObject, corePlan, dlcreate, dldelete, getLibc } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow } from '../lib/native.js';
import { collect, now } from '../lib/stats.js';
import { cHelper, run as runTool } from '../lib/tools.js';

const RUNS = 5;

export function run(ctx: Context) {
  const perRun = { dlcreate: ctx.quick ? 100 : 400, floor: ctx.quick ? 200 : 800, gcc: ctx.quick ? 3 : 10, writer: ctx.quick ? 20 : 100 };
  const cap = DEFAULT_CAPACITY;
  const f = new Figure(4, 'dlcreate latency: create, load and delete a library with the default capacity', { runs: RUNS, perRun, capacity: { ...cap } });
  const total = f.measure({ id: 'dlcreate', label: 'dlcreate + dldelete (default capacity)', show: 'time', per: 'library' });
  const create = f.measure({ id: 'create', label: '… of which dlcreate', show: 'time', per: 'library' });
  const remove = f.measure({ id: 'delete', label: '… of which dldelete', show: 'time', per: 'library' });
  const floor = f.measure({ id: 'floor', label: 'the same system calls from C (floor)', show: 'time', per: 'library' });
  const floorCreate = f.measure({ id: 'floor-create', label: '… of which those of dlcreate', show: 'time', per: 'library' });
  const floorDelete = f.measure({ id: 'floor-delete', label: '… of which those of dldelete', show: 'time', per: 'library' });
  const gcc = f.measure({ id: 'gcc', label: 'gcc -shared of an empty file + dlopen + dlclose (anchor)', show: 'time', per: 'library' });
  const writer = f.measure({ id: 'writer', label: 'buildSharedObject (no symbols) + write + dlopen + dlclose', show: 'time', per: 'library' });
  const HEAP = 1_000_000;
  const heapText = `${HEAP.toLocaleString('en-US')} live objects`;
  const firstBare = f.measure({
    id: 'first',
    label: 'cold: the first dlcreate in a fresh process (koffi loaded, libc bound, zygote written, dlopen)',
    show: 'time',
    per: 'library',
  });
  const firstHeap = f.measure({
    id: 'first-heap',
    label: `cold: the same beside a heap of ${heapText} (settled by a full collection first)`,
    show: 'time',
    per: 'library',
  });
  const firstHeapView = f.measure({
    id: 'first-heap-view',
    label: `the same with the aliases' space a plain reservation and its koffi view (the fallback; dlbind's only way before 6de6da6)`,
    show: 'time',
    per: 'library',
  });
  const built = process.env.DLBIND_BENCH_LIBRARY;
  /** One fresh process's first dlcreate in seconds, after `objects` live objects and a full collection (only with the bundle: through tsx it would measure tsx). */
  const firstDlcreate = (objects: number, viewSpace: boolean): number => {
    const script = `const d = await import(${JSON.stringify(built)});
const heap = Array.from({ length: ${objects} }, (_, i) => ({ name: 'object_' + i, value: i }));
if (${viewSpace}) d.setWasmAliasSpaces(false);
globalThis.gc();
const t = performance.now(); const lib = d.dlcreate(); const s = (performance.now() - t) / 1000;
d.dldelete(lib); console.log(s, heap.length);`;
    const p = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`first dlcreate child failed: ${p.stderr}`);
    return Number(p.stdout.trim().split(' ')[0]);
  };
  const dir = ctx.workDir;
  writeFileSync(join(dir, 'empty.c'), '');
  getLibc();
  for (let i = 0; i < 20; i++) dldelete(dlcreate()); // warm-up: bindings made, code compiled
  // The floor's zygote is a live library's own file, read by the C driver while the library lives.
  const model = dlcreate();
  const layout = model.liveObject.layout;
  const plan = corePlan(layout);
  const spec = join(dir, 'create-floor.spec');
  writeFileSync(spec, [`file ${model.path} ${layout.fileSize}`, ...plan.alias.map(([at, n]) => `alias ${at} ${n}`)].join('\n'));
  const cCreate = cHelper(ctx.binDir, 'create', ['-ldl']);

  for (let r = 0; r < RUNS; r++) {
    collect();
    for (let i = 0; i < perRun.dlcreate; i++) {
      const t0 = now();
      const lib = dlcreate();
      const t1 = now();
      dldelete(lib);
      const t2 = now();
      total(t2 - t0);
      create(t1 - t0);
      remove(t2 - t1);
    }
    const c = JSON.parse(runTool(cCreate, [spec, String(perRun.floor)])) as { createNs: number[]; deleteNs: number[] };
    c.createNs.forEach((ns, i) => {
      floor((ns + c.deleteNs[i]!) / 1e9);
      floorCreate(ns / 1e9);
      floorDelete(c.deleteNs[i]! / 1e9);
    });
    for (let i = 0; i < perRun.gcc; i++) {
      const so = join(dir, `empty-${r}-${i}.so`);
      const t0 = now();
      runTool('gcc', ['-shared', '-o', so, join(dir, 'empty.c')], { quiet: true });
      dlcloseAll([dlopenOrThrow(so)]);
      gcc(now() - t0);
    }
    for (let i = 0; i < perRun.writer; i++) {
      const so = join(dir, `writer-${r}-${i}.so`);
      const t0 = now();
      writeFileSync(so, buildSharedObject({ soname: `writer-${r}-${i}.so` }));
      dlcloseAll([dlopenOrThrow(so)]);
      writer(now() - t0);
    }
    if (built !== undefined) {
      firstBare(firstDlcreate(0, false));
      firstHeap(firstDlcreate(HEAP, false));
      firstHeapView(firstDlcreate(HEAP, true));
    }
    ctx.log(`run ${r + 1} done`);
  }
  dldelete(model);
  f.goal('dlcreate', { max: 150e-6, text: 'median ≤ 150 µs (default capacity: a million symbols, 256 MiB of text)' });
  f.ratio('dlcreate + dldelete vs the same system calls from C', 'dlcreate', 'floor');
  f.ratio('dlcreate vs its system calls from C', 'create', 'floor-create');
  f.ratio('dldelete vs its system calls from C', 'delete', 'floor-delete');
  f.ratio('dlcreate + dldelete vs gcc -shared + dlopen + dlclose', 'dlcreate', 'gcc');
  f.ratio('dlcreate + dldelete vs buildSharedObject + write + dlopen + dlclose', 'dlcreate', 'writer');
  if (built !== undefined) {
    f.ratio(`cold: the first dlcreate beside ${heapText} vs in a bare process`, 'first-heap', 'first');
    f.ratio(`cold: the first dlcreate beside ${heapText}, the koffi view vs the WebAssembly memory`, 'first-heap-view', 'first-heap');
    f.ratio('cold: the first dlcreate vs a warm one', 'first', 'create');
  }
  f.note(
    `Every library or object is one sample (${RUNS} runs of ${perRun.dlcreate} libraries, ${perRun.floor} C floor libraries, ${perRun.gcc} gcc objects and ${perRun.writer} written objects, interleaved by run), after 20 untimed libraries. Default capacity: ${cap.text / 1024} KiB text, ${cap.rodata / 1024} KiB rodata, ${cap.data / 1024} KiB data, ${cap.maxSymbols} symbols, ${cap.stringTableSize / 1024} KiB of names.`,
  );
  f.note(
    `The floor (bench/c/create.c) makes dlcreate's and dldelete's system calls on a live library's own zygote pages: memfd_create, the alias mmap into reserved space, a pwrite per written range (the last sets the file's size), dlopen, dlinfo, ${plan.alias.length} MADV_DONTDUMP calls on the alias; dlclose, mincore, the alias back to PROT_NONE, close. (The data segment's MAP_SHARED remap waits for the first data block.) The ratio to it is one of medians; what lies above it is dlbind's JavaScript and koffi.`,
  );
  if (built !== undefined) {
    f.note(
      `Cold rows: each run starts three fresh node processes (--expose-gc) that import the bundle, make ${heapText} (or none), run one full collection, then time their first dlcreate. The aliases' address space is a shared WebAssembly memory (src/loader/alias-space.ts), whose buffer V8 does not count as external memory; the plain reservation's koffi view counts at its whole length (4 GiB), so its first dlcreate sets off a full collection of the heap, whose cost grows with the heap.`,
    );
  } else f.note('The cold rows need the bundle (not --source): a child through tsx would measure tsx.');
  return f.result();
}
