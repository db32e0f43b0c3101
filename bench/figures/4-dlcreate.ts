// Figure 4: dlcreate latency. Create, load and delete a library with the
// default capacity, against building and loading an empty object with the
// native toolchain (gcc -shared of an empty file, dlopen, dlclose) and with
// dlbind's own offline writer.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CAPACITY, buildSharedObject, dlcreate, dldelete, getLibc } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow } from '../lib/native.js';
import { collect, now } from '../lib/stats.js';
import { run as runTool } from '../lib/tools.js';

const RUNS = 5;

export function run(ctx: Context) {
  const perRun = { dlcreate: ctx.quick ? 100 : 400, gcc: ctx.quick ? 3 : 10, writer: ctx.quick ? 20 : 100 };
  const cap = DEFAULT_CAPACITY;
  const f = new Figure(4, 'dlcreate latency: create, load and delete a library with the default capacity', { runs: RUNS, perRun, capacity: { ...cap } });
  const total = f.measure({ id: 'dlcreate', label: 'dlcreate + dldelete (default capacity)', show: 'time', per: 'library' });
  const create = f.measure({ id: 'create', label: '… of which dlcreate', show: 'time', per: 'library' });
  const remove = f.measure({ id: 'delete', label: '… of which dldelete', show: 'time', per: 'library' });
  const gcc = f.measure({ id: 'gcc', label: 'gcc -shared of an empty file + dlopen + dlclose (anchor)', show: 'time', per: 'library' });
  const writer = f.measure({ id: 'writer', label: 'buildSharedObject (no symbols) + write + dlopen + dlclose', show: 'time', per: 'library' });
  const dir = ctx.workDir;
  writeFileSync(join(dir, 'empty.c'), '');
  getLibc();
  for (let i = 0; i < 20; i++) dldelete(dlcreate()); // warm-up: bindings made, code compiled

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
    ctx.log(`run ${r + 1} done`);
  }
  f.goal('dlcreate', { max: 150e-6, text: 'median ≤ 150 µs (default capacity: a million symbols, 256 MiB of text)' });
  f.ratio('dlcreate + dldelete vs gcc -shared + dlopen + dlclose', 'dlcreate', 'gcc');
  f.ratio('dlcreate + dldelete vs buildSharedObject + write + dlopen + dlclose', 'dlcreate', 'writer');
  f.note(
    `Every library or object is one sample (${RUNS} runs of ${perRun.dlcreate} libraries, ${perRun.gcc} gcc objects and ${perRun.writer} written objects, interleaved by run), after 20 untimed libraries. Default capacity: ${cap.text / 1024} KiB text, ${cap.rodata / 1024} KiB rodata, ${cap.data / 1024} KiB data, ${cap.maxSymbols} symbols, ${cap.stringTableSize / 1024} KiB of names.`,
  );
  return f.result();
}
