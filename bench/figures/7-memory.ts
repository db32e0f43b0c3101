// Figure 7: memory. RSS added by one live library with the default capacity,
// and by each of 1,000, measured in fresh processes; the anchor is dlopen of
// a gcc -shared object with one symbol (1,000 copies of it for the second).
import { join } from 'node:path';
import { type Context, Figure } from '../lib/figure.js';
import { bytes, median } from '../lib/stats.js';
import { benchDir, run as runTool, writeDataAssembly } from '../lib/tools.js';

const RUNS = 5;
const FULL_COUNT = 1000;
const QUICK_COUNT = 200;

interface Report {
  one: Record<string, number>;
  each: Record<string, number>;
}

export function run(ctx: Context) {
  const COUNT = ctx.quick ? QUICK_COUNT : FULL_COUNT;
  const f = new Figure(7, `Memory: RSS added by one live library with the default capacity, and by each of ${COUNT.toLocaleString('en-US')}`, {
    runs: RUNS,
    libraries: COUNT,
  });
  const m = {
    one: f.measure({ id: 'one', label: 'dlcreate(), one library', show: 'bytes' }),
    each: f.measure({ id: 'each', label: `dlcreate(), each of ${COUNT.toLocaleString('en-US')} libraries`, show: 'bytes' }),
    gccOne: f.measure({ id: 'gcc-one', label: 'dlopen of a gcc -shared one-symbol .so (anchor)', show: 'bytes' }),
    gccEach: f.measure({ id: 'gcc-each', label: `dlopen, each of ${COUNT.toLocaleString('en-US')} copies of it (anchor)`, show: 'bytes' }),
  };
  const so = join(ctx.workDir, 'one-symbol.so');
  writeDataAssembly(join(ctx.workDir, 'one-symbol.s'), ['jit_obj_0']);
  runTool('gcc', ['-shared', '-o', so, join(ctx.workDir, 'one-symbol.s')], { quiet: true });
  const child = join(benchDir, 'children', 'memory.ts');
  const parts: Report[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const kind of ['dlbind', 'gcc'] as const) {
      const out = runTool(process.execPath, ['--expose-gc', '--import', 'tsx', child, kind, String(COUNT), ctx.workDir, so]);
      const report = JSON.parse(out) as Report;
      if (kind === 'dlbind') {
        m.one(report.one.VmRSS!);
        m.each(report.each.VmRSS!);
        parts.push(report);
      } else {
        m.gccOne(report.one.VmRSS!);
        m.gccEach(report.each.VmRSS!);
      }
    }
    ctx.log(`run ${r + 1} done`);
  }
  f.goal('one', { max: 64 * 1024, text: '≤ 64 KiB' });
  f.ratio('one library vs one gcc object', 'one', 'gcc-one');
  f.ratio(`each of ${COUNT.toLocaleString('en-US')} libraries vs each of ${COUNT.toLocaleString('en-US')} gcc objects`, 'each', 'gcc-each');
  const part = (which: 'one' | 'each', field: string): string => bytes(median(parts.map((p) => p[which][field]!)));
  f.note(
    `Where dlbind's RSS goes (medians): one library ${part('one', 'RssAnon')} anonymous (JS heap, ld.so's link map), ${part('one', 'RssFile')} file-backed, ${part('one', 'RssShmem')} shared memory (the memfd's touched pages); each of ${COUNT.toLocaleString('en-US')}: ${part('each', 'RssAnon')} anonymous, ${part('each', 'RssFile')} file, ${part('each', 'RssShmem')} shared memory.`,
  );
  f.note(
    'Each sample is a fresh node process that first creates and deletes 20 libraries (or loads and closes 20 objects) untimed, so that koffi, the libc bindings and the compiled and optimised code (whose compiler threads keep the malloc arenas they grew) are not counted; VmRSS is read from /proc/self/status after two forced garbage collections.',
  );
  return f.result();
}
