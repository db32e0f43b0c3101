// Figure 5: the offline writer at 1,000 to 1,000,000 one-byte functions.
// dlbind's side: buildSharedObject + write as the first call of a fresh
// process (a child per sample, timed inside), that whole process, and the
// `dlbind build` command from a JSON spec; the anchors: GNU as + ld -shared,
// and the linkers alone on an object file that as made beforehand: GNU ld,
// ld.lld and mold. Time, output size, and peak RSS at the largest size.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommandForBench } from '../lib/command.js';
import { dlsym } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { dlcloseAll, dlopenOrThrow, functionName } from '../lib/native.js';
import { benchDir, have, measureProcess, run as runTool, writeFunctionAssembly, writeLines } from '../lib/tools.js';

export function run(ctx: Context) {
  const sizes = ctx.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000];
  // Fewer samples where one takes seconds; the full run stays within about three minutes.
  const runsOf = (n: number) => (ctx.quick ? 3 : n >= 1_000_000 ? 3 : 5);
  const largest = sizes[sizes.length - 1]!;
  const f = new Figure(5, 'Offline writer: 1,000 to 1,000,000 one-byte functions (ret, 16-byte aligned), both hash tables', {
    functions: sizes,
    runs: sizes.map(runsOf),
  });
  const lld = have('ld.lld');
  const mold = have('mold');
  const dir = ctx.workDir;
  const child = join(benchDir, 'children', 'writer.ts');
  const command = buildCommandForBench();
  const node = process.execPath;
  const obj = join(dir, 'functions.o');
  const lldSo = join(dir, 'lld.so');
  const moldSo = join(dir, 'mold.so');
  const ldSo = join(dir, 'ld.so');

  for (const n of sizes) {
    const k = n.toLocaleString('en-US');
    const m = {
      build: f.measure({ id: `build-${n}`, label: `${k}: buildSharedObject + write, first call in a fresh process (timed inside it)`, show: 'time' }),
      buildAlone: f.measure({ id: `build-alone-${n}`, label: `${k}: of which buildSharedObject alone`, show: 'time' }),
      writeAlone: f.measure({
        id: `write-alone-${n}`,
        label: `${k}: of which the write alone (writeFileAtomic, no fsync, freeOldFirst, over an earlier child's output)`,
        show: 'time',
      }),
      twins: f.measure({
        id: `twins-${n}`,
        label: `${k}: the same with the WebAssembly kernels off (the JavaScript loops alone)`,
        show: 'time',
      }),
      columns: f.measure({
        id: `columns-${n}`,
        label: `${k}: the same from the bulk form (columns: names in one buffer, bytes in one, sizes)`,
        show: 'time',
      }),
      columnsAlone: f.measure({ id: `columns-alone-${n}`, label: `${k}: of which buildSharedObject alone, bulk form`, show: 'time' }),
      columnsWrite: f.measure({ id: `columns-write-${n}`, label: `${k}: of which the write alone, bulk form`, show: 'time' }),
      process: f.measure({ id: `process-${n}`, label: `${k}: that whole node process (start, make the spec, build, write)`, show: 'time' }),
      command: f.measure({ id: `command-${n}`, label: `${k}: dlbind build spec.json (whole process)`, show: 'time' }),
      asld: f.measure({ id: `as+ld-${n}`, label: `${k}: GNU as + GNU ld -shared (whole processes)`, show: 'time' }),
      ld: f.measure({ id: `ld-${n}`, label: `${k}: GNU ld -shared alone (from the .o)`, show: 'time' }),
      lld: f.measure({ id: `lld-${n}`, label: `${k}: ld.lld -shared alone (from the .o)`, show: 'time' }),
      mold: f.measure({ id: `mold-${n}`, label: `${k}: mold -shared alone (from the .o)`, show: 'time' }),
      sizeOurs: f.measure({ id: `size-ours-${n}`, label: `${k}: output size, buildSharedObject`, show: 'bytes' }),
      sizeLd: f.measure({ id: `size-ld-${n}`, label: `${k}: output size, GNU ld`, show: 'bytes' }),
      sizeLld: f.measure({ id: `size-lld-${n}`, label: `${k}: output size, ld.lld`, show: 'bytes' }),
      sizeMold: f.measure({ id: `size-mold-${n}`, label: `${k}: output size, mold`, show: 'bytes' }),
    };
    const big = n === largest;
    const rss = big
      ? {
          ours: f.measure({ id: 'rss-ours', label: `${k}: peak RSS, node process (spec + build + write)`, show: 'bytes' }),
          twins: f.measure({ id: 'rss-twins', label: `${k}: peak RSS, the same with the kernels off`, show: 'bytes' }),
          ld: f.measure({ id: 'rss-ld', label: `${k}: peak RSS, GNU ld`, show: 'bytes' }),
          lld: f.measure({ id: 'rss-lld', label: `${k}: peak RSS, ld.lld`, show: 'bytes' }),
          mold: f.measure({ id: 'rss-mold', label: `${k}: peak RSS, mold`, show: 'bytes' }),
        }
      : undefined;
    const asm = join(dir, `functions-${n}.s`);
    writeFunctionAssembly(asm, n, functionName);
    const spec = join(dir, `functions-${n}.json`);
    writeLines(spec, n, (i) => `${i === 0 ? '' : ','}{"name":"${functionName(i)}","section":"text","bytes":"c3"}`, '{"symbols":[', ']}');
    // The linkers alone link the object as made once, outside every clock.
    runTool('as', ['-o', obj, asm], { quiet: true });
    const ours = join(dir, `writer-${n}.so`);
    const commandOut = join(dir, `command-${n}.so`);
    const columnsSo = join(dir, `columns-${n}.so`);

    for (let r = 0; r < runsOf(n); r++) {
      const report = join(dir, 'writer-child.json');
      const p = measureProcess(ctx.binDir, node, ['--import', 'tsx', child, String(n), ours], { stdout: report });
      const inside = JSON.parse(readFileSync(report, 'utf8')) as { buildSeconds: number; writeSeconds: number; size: number };
      m.build(inside.buildSeconds + inside.writeSeconds);
      m.buildAlone(inside.buildSeconds);
      m.writeAlone(inside.writeSeconds);
      m.process(p.seconds);
      m.sizeOurs(inside.size);
      rss?.ours(p.maxRss);
      const t = measureProcess(ctx.binDir, node, ['--import', 'tsx', child, String(n), ours, 'twins'], { stdout: report });
      rss?.twins(t.maxRss);
      const twins = JSON.parse(readFileSync(report, 'utf8')) as { buildSeconds: number; writeSeconds: number; size: number };
      if (twins.size !== inside.size) throw new Error(`the writer's twins made ${twins.size} bytes, the kernels ${inside.size}`);
      m.twins(twins.buildSeconds + twins.writeSeconds);
      measureProcess(ctx.binDir, node, ['--import', 'tsx', child, String(n), columnsSo, 'columns'], { stdout: report });
      const columns = JSON.parse(readFileSync(report, 'utf8')) as { buildSeconds: number; writeSeconds: number; size: number };
      if (!readFileSync(columnsSo).equals(readFileSync(ours)))
        throw new Error(`the bulk form made other bytes than the symbols' form (${columns.size} against ${inside.size})`);
      m.columns(columns.buildSeconds + columns.writeSeconds);
      m.columnsAlone(columns.buildSeconds);
      m.columnsWrite(columns.writeSeconds);
      m.command(measureProcess(ctx.binDir, node, [command, 'build', spec, '-o', commandOut]).seconds);
      const a = measureProcess(ctx.binDir, 'as', ['-o', join(dir, 'functions-again.o'), asm]);
      const l = measureProcess(ctx.binDir, 'ld', ['-shared', '--hash-style=both', '-o', ldSo, obj]);
      m.asld(a.seconds + l.seconds);
      m.ld(l.seconds);
      m.sizeLd(statSync(ldSo).size);
      rss?.ld(l.maxRss);
      if (lld) {
        const ll = measureProcess(ctx.binDir, 'ld.lld', ['-shared', '--hash-style=both', '-o', lldSo, obj]);
        m.lld(ll.seconds);
        m.sizeLld(statSync(lldSo).size);
        rss?.lld(ll.maxRss);
      }
      if (mold) {
        const mo = measureProcess(ctx.binDir, 'mold', ['-shared', '--hash-style=both', '-o', moldSo, obj]);
        m.mold(mo.seconds);
        m.sizeMold(statSync(moldSo).size);
        rss?.mold(mo.maxRss);
      }
    }
    ctx.log(`${k} functions: ${runsOf(n)} runs done`);
    // The outputs must be equivalent: every one loads and defines the first and last function.
    for (const so of [ours, commandOut, ldSo, ...(lld ? [lldSo] : []), ...(mold ? [moldSo] : [])]) {
      const h = dlopenOrThrow(so);
      for (const i of [0, n - 1]) if (dlsym(h, functionName(i)) === null) throw new Error(`${so} does not define ${functionName(i)}`);
      dlcloseAll([h]);
    }

    const ratio = (label: string, of: string, to: string, goal?: { max: number; text: string }) => f.ratio(`${k}: ${label}`, `${of}-${n}`, `${to}-${n}`, goal);
    if (lld) {
      const goal = n >= 1_000_000 ? { max: 0.5, text: '≤ 0.5× ld.lld' } : n >= 10_000 ? { max: 1, text: '≤ ld.lld' } : undefined;
      ratio('buildSharedObject + write (fresh process) vs ld.lld alone', 'build', 'lld', goal);
      ratio('the same from the bulk form vs ld.lld alone', 'columns', 'lld', goal);
      // The write's time is the file system's more than ours (on this machine's ext4, 26 to 371 ms for the same
      // 98 MiB): the build alone, beside the goal's rows, says how much of the goal the writer's own work takes.
      ratio('buildSharedObject alone (no write) vs ld.lld alone', 'build-alone', 'lld');
      ratio('the same from the bulk form vs ld.lld alone', 'columns-alone', 'lld');
    }
    ratio('bulk form vs symbols form', 'columns', 'build');
    if (lld) ratio('the same, kernels off, vs ld.lld alone', 'twins', 'lld');
    ratio('buildSharedObject + write, kernels on vs off', 'build', 'twins');
    if (mold) ratio('buildSharedObject + write (fresh process) vs mold alone', 'build', 'mold');
    ratio('buildSharedObject + write (fresh process) vs GNU ld alone', 'build', 'ld');
    // The command's goal (≤ as + ld from 10,000 functions) is figure 12's; here it is shown beside the writer alone.
    ratio('dlbind build vs as + ld', 'command', 'as+ld');
    ratio('whole node process vs as + ld', 'process', 'as+ld');
    ratio('output size vs GNU ld', 'size-ours', 'size-ld', { max: 1.02, text: '≤ 1.02' });
    if (lld) ratio('output size vs ld.lld', 'size-ours', 'size-lld');
    if (mold) ratio('output size vs mold', 'size-ours', 'size-mold');
  }
  const k = largest.toLocaleString('en-US');
  if (largest >= 1_000_000)
    f.ratio(`${k}: buildSharedObject + write vs as + ld`, `build-${largest}`, `as+ld-${largest}`, { max: 1 / 20, text: '≥ 20× faster' });
  f.ratio(`${k}: peak RSS, node process vs GNU ld`, 'rss-ours', 'rss-ld');
  f.ratio(`${k}: peak RSS, kernels on vs off`, 'rss-ours', 'rss-twins');
  if (lld) f.ratio(`${k}: peak RSS, node process vs ld.lld`, 'rss-ours', 'rss-lld');
  if (!lld) f.note('ld.lld is not installed: its rows are skipped.');
  if (!mold) f.note('mold is not installed: its rows are skipped.');
  else
    f.note(
      "mold forks by default: a child links and the parent exits as soon as the output is done, which hides the kernel's teardown of the child. So its time is what a caller waits for, and its peak RSS row is the parent's alone.",
    );
  f.note(
    'Same input on every side: N global STT_FUNC symbols jit_fn_<i>, one ret each, 16-byte aligned, with .dynsym, .symtab and both SysV and GNU hash tables (every linker gets --hash-style=both). ' +
      'Ours: each sample is a fresh node process (bench/children/writer.ts) that makes the spec (one object per symbol), then times its first and only buildSharedObject + writeFileAtomic without fsync and with freeOldFirst (the old file unlinked first, a new file renamed into place: what ld.lld does); the whole-process row adds node start-up and making the spec. ' +
      "The 'of which' rows split the child's time into the build alone and the write alone: the write replaces the file an earlier child wrote there. Until stop 32 it was writeFileSync (O_TRUNC), where this machine's ext4 (auto_da_alloc, discard) took 26 to 371 ms for the same 98 MiB from one process to the next. " +
      "The bulk-form rows are the same child given the same functions as one SymbolColumns block (names as one buffer of NUL-terminated names, the ret bytes in one buffer, sizes in a Uint32Array), which it makes outside the clock; its output must be byte for byte the symbols form's. " +
      "The kernels-off rows are the same child with the writer's WebAssembly kernels turned off (src/elf/kernels.ts): its JavaScript loops alone, the writer before stop 23, in the same runs; both sides must give the same size. " +
      'dlbind build reads the same functions from a JSON spec ({"name", "section": "text", "bytes": "c3"} each) and writes atomically. ' +
      'The assembly and the object file are made once per size outside every clock; as + ld assembles again in each run. Tools are timed as whole processes (fork to wait4, which also gives ru_maxrss). Runs are interleaved: in each, every side once.',
  );
  f.note(
    'Sizes: with both tables, dlbind sizes DT_HASH as GNU ld does (at most 32,771 buckets; the loader reads DT_GNU_HASH) and keeps about two symbols per GNU bucket, as lld does; GNU ld uses at most 32,771 GNU buckets too (chains of about 30 at a million symbols).',
  );
  f.note('All outputs are dlopened afterwards and must define the first and the last function.');
  return f.result();
}
