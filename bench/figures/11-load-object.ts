// Figure 11: loading a compiled object. One .o of 1,000 C functions (gcc -c -O2
// -fPIC, compiled once, untimed) is linked into a live library with
// loadObject, against the native way to the same end: gcc -shared (and ld
// -shared alone) of the same .o, then dlopen.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dlcreate, dldelete, dlsym } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow } from '../lib/native.js';
import { collect, now } from '../lib/stats.js';
import { run as runTool } from '../lib/tools.js';

const RUNS = 5;
const FUNCTIONS = 1000;

/** 1,000 functions, each calling the one before it and touching global and static data, plus a printf. */
function source(): string {
  const lines = ['#include <stdio.h>', 'int counter;', 'static int table[64];'];
  lines.push('int fn_0(int x) { counter++; return x + table[0]; }');
  for (let i = 1; i < FUNCTIONS; i++) lines.push(`int fn_${i}(int x) { table[${i % 64}] += x; return fn_${i - 1}(x ^ ${i}) + ${i}; }`);
  lines.push('int report(void) { return printf("%d\\n", counter); }');
  return `${lines.join('\n')}\n`;
}

export function run(ctx: Context) {
  const perRun = { load: ctx.quick ? 5 : 20, native: ctx.quick ? 2 : 5 };
  const f = new Figure(11, `Loading a compiled object: ${FUNCTIONS.toLocaleString('en-US')} C functions (gcc -c -O2 -fPIC) into a running process`, {
    runs: RUNS,
    perRun,
    functions: FUNCTIONS,
  });
  const load = f.measure({ id: 'loadObject', label: 'lib.loadObject(bytes) into a live library', show: 'time', per: 'object' });
  const unload = f.measure({ id: 'unloadObject', label: 'lib.unloadObject(handle)', show: 'time', per: 'object' });
  const gcc = f.measure({ id: 'gcc', label: 'gcc -shared of the same .o + dlopen (anchor)', show: 'time', per: 'object' });
  const ld = f.measure({ id: 'ld', label: 'ld -shared of the same .o + dlopen', show: 'time', per: 'object' });
  const dir = ctx.workDir;
  const src = join(dir, 'objects-1000.c');
  const obj = join(dir, 'objects-1000.o');
  writeFileSync(src, source());
  runTool('gcc', ['-c', '-O2', '-fPIC', '-o', obj, src], { quiet: true });
  const bytes = new Uint8Array(readFileSync(obj));
  const lib = dlcreate('libbench-objects.so');
  // Warm-up: bindings made, code compiled.
  for (let i = 0; i < 3; i++) lib.unloadObject(lib.loadObject(bytes));
  const handle = lib.loadObject(bytes);
  if (dlsym(lib, `fn_${FUNCTIONS - 1}`) === null) throw new Error('the loaded object is not found by dlsym');
  lib.unloadObject(handle);

  for (let r = 0; r < RUNS; r++) {
    collect();
    for (let i = 0; i < perRun.load; i++) {
      const t0 = now();
      const h = lib.loadObject(bytes);
      const t1 = now();
      lib.unloadObject(h);
      const t2 = now();
      load(t1 - t0);
      unload(t2 - t1);
    }
    for (let i = 0; i < perRun.native; i++) {
      for (const [tool, sample] of [
        ['gcc', gcc],
        ['ld', ld],
      ] as const) {
        const so = join(dir, `objects-${tool}-${r}-${i}.so`);
        const t0 = now();
        runTool(tool, ['-shared', '-o', so, obj], { quiet: true });
        const h = dlopenOrThrow(so);
        sample(now() - t0);
        dlcloseAll([h]);
      }
    }
    ctx.log(`run ${r + 1} done`);
  }
  dldelete(lib);
  f.ratio('loadObject vs gcc -shared + dlopen', 'loadObject', 'gcc');
  f.ratio('loadObject vs ld -shared + dlopen', 'loadObject', 'ld');
  f.note(
    `One object of ${FUNCTIONS} functions (${bytes.length.toLocaleString('en-US')} bytes, ${FUNCTIONS + 1} exported symbols, a call to printf), compiled once. loadObject reads it (dlbind's reader), links it (relocation engine, import slots for printf), writes it and binds every symbol; each sample is followed by an unloadObject (timed apart). The anchors start a linker process and dlopen its output (dlclose untimed). ${RUNS} runs of ${perRun.load} loads and ${perRun.native} native links each, after 3 untimed loads.`,
  );
  return f.result();
}
