// Figure 5: the offline writer. buildSharedObject with a million one-byte
// functions, against GNU as + ld -shared (and ld.lld) on the same functions
// in assembly: time, peak RSS and output size.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dlsym } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow, functionName } from '../lib/native.js';
import { benchDir, have, measureProcess, writeFunctionAssembly } from '../lib/tools.js';

const RUNS = 5;

export function run(ctx: Context) {
  const n = ctx.quick ? 100_000 : 1_000_000;
  const f = new Figure(5, `Offline writer: ${n.toLocaleString('en-US')} one-byte functions (ret, 16-byte aligned), both hash tables`, {
    functions: n,
    runs: RUNS,
  });
  const lld = have('ld.lld');
  const m = {
    build: f.measure({ id: 'build', label: 'buildSharedObject + write (timed inside the process)', show: 'time' }),
    process: f.measure({ id: 'process', label: 'whole node process: start, make the spec, build, write', show: 'time' }),
    as: f.measure({ id: 'as', label: 'GNU as (whole process)', show: 'time' }),
    ld: f.measure({ id: 'ld', label: 'GNU ld -shared (whole process)', show: 'time' }),
    asld: f.measure({ id: 'as+ld', label: 'GNU as + GNU ld (anchor)', show: 'time' }),
    lld: f.measure({ id: 'lld', label: 'ld.lld -shared (whole process)', show: 'time' }),
    aslld: f.measure({ id: 'as+lld', label: 'GNU as + ld.lld', show: 'time' }),
    rssOurs: f.measure({ id: 'rss-ours', label: 'peak RSS: node process (spec + build + write)', show: 'bytes' }),
    rssAs: f.measure({ id: 'rss-as', label: 'peak RSS: GNU as', show: 'bytes' }),
    rssLd: f.measure({ id: 'rss-ld', label: 'peak RSS: GNU ld', show: 'bytes' }),
    rssAsLd: f.measure({ id: 'rss-as+ld', label: 'peak RSS: larger of GNU as and GNU ld', show: 'bytes' }),
    rssLld: f.measure({ id: 'rss-lld', label: 'peak RSS: ld.lld', show: 'bytes' }),
    sizeOurs: f.measure({ id: 'size-ours', label: 'output size: buildSharedObject', show: 'bytes' }),
    sizeLd: f.measure({ id: 'size-ld', label: 'output size: GNU ld', show: 'bytes' }),
    sizeLld: f.measure({ id: 'size-lld', label: 'output size: ld.lld', show: 'bytes' }),
  };
  const dir = ctx.workDir;
  const asm = join(dir, 'functions.s');
  writeFunctionAssembly(asm, n, functionName);
  ctx.log(`assembly written: ${(statSync(asm).size / 2 ** 20).toFixed(0)} MiB`);
  const ours = join(dir, `writer-${n}.so`);
  const child = join(benchDir, 'children', 'writer.ts');

  for (let r = 0; r < RUNS; r++) {
    const report = join(dir, 'writer-child.json');
    const p = measureProcess(ctx.binDir, process.execPath, ['--import', 'tsx', child, String(n), ours], { stdout: report });
    const inside = JSON.parse(readFileSync(report, 'utf8')) as { buildSeconds: number; writeSeconds: number; size: number };
    m.build(inside.buildSeconds + inside.writeSeconds);
    m.process(p.seconds);
    m.rssOurs(p.maxRss);
    m.sizeOurs(inside.size);

    const obj = join(dir, 'functions.o');
    const a = measureProcess(ctx.binDir, 'as', ['-o', obj, asm]);
    const l = measureProcess(ctx.binDir, 'ld', ['-shared', '--hash-style=both', '-o', join(dir, 'ld.so'), obj]);
    m.as(a.seconds);
    m.ld(l.seconds);
    m.asld(a.seconds + l.seconds);
    m.rssAs(a.maxRss);
    m.rssLd(l.maxRss);
    m.rssAsLd(Math.max(a.maxRss, l.maxRss));
    m.sizeLd(statSync(join(dir, 'ld.so')).size);
    if (lld) {
      const ll = measureProcess(ctx.binDir, 'ld.lld', ['-shared', '--hash-style=both', '-o', join(dir, 'lld.so'), obj]);
      m.lld(ll.seconds);
      m.aslld(a.seconds + ll.seconds);
      m.rssLld(ll.maxRss);
      m.sizeLld(statSync(join(dir, 'lld.so')).size);
    }
    ctx.log(
      `run ${r + 1}: ours ${inside.buildSeconds.toFixed(2)} s + ${inside.writeSeconds.toFixed(2)} s write, as ${a.seconds.toFixed(2)} s, ld ${l.seconds.toFixed(2)} s`,
    );
  }
  // The outputs must be equivalent: every one loads and defines the first and last function.
  for (const so of [ours, join(dir, 'ld.so'), ...(lld ? [join(dir, 'lld.so')] : [])]) {
    const h = dlopenOrThrow(so);
    for (const i of [0, n - 1]) if (dlsym(h, functionName(i)) === null) throw new Error(`${so} does not define ${functionName(i)}`);
    dlcloseAll([h]);
  }

  f.ratio('buildSharedObject + write vs as + ld', 'build', 'as+ld', { max: 1 / 20, text: '≥ 20× faster' });
  f.ratio('whole node process vs as + ld', 'process', 'as+ld');
  f.ratio('buildSharedObject + write vs ld alone', 'build', 'ld');
  if (lld) {
    f.ratio('buildSharedObject + write vs as + ld.lld', 'build', 'as+lld');
    f.ratio('buildSharedObject + write vs ld.lld alone', 'build', 'lld');
  }
  f.ratio('peak RSS: node process vs larger of as and ld', 'rss-ours', 'rss-as+ld');
  f.ratio('output size vs GNU ld', 'size-ours', 'size-ld', { max: 1.2, text: '≤ 1.2' });
  if (lld) f.ratio('output size vs ld.lld', 'size-ours', 'size-lld');
  else f.note('ld.lld is not installed: its rows are skipped.');
  f.note(
    `Same input on both sides: ${n.toLocaleString('en-US')} global STT_FUNC symbols jit_fn_<i>, one ret each, 16-byte aligned, with .dynsym, .symtab and both SysV and GNU hash tables (ld and ld.lld get --hash-style=both). The assembly file is written once, outside every clock. Tools are timed as whole processes (fork to wait4, which also gives ru_maxrss); our in-process time leaves out node's start-up and making the spec (one object per symbol), which the whole-process row includes.`,
  );
  f.note('All outputs are dlopened afterwards and must define the first and the last function.');
  return f.result();
}
