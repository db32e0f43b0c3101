// Figure 12: the dlbind command's start. Whole processes, fork to wait4: `node -e 0` (the
// floor of any command), `dlbind --version`, `dlbind inspect` on a small file, and `dlbind
// build` of N one-instruction functions from a spec file, against GNU as + ld -shared on the
// same functions in assembly. The command is bundled from src/ as `npm run build` bundles it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommandForBench } from '../lib/command.js';
import { type Context, Figure } from '../lib/figure.js';
import { functionName } from '../lib/native.js';
import { type ProcessCost, have, measureProcess, writeFunctionAssembly, writeLines } from '../lib/tools.js';

export function run(ctx: Context) {
  const runs = ctx.quick ? 5 : 10;
  const sizes = ctx.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const f = new Figure(12, 'The command: whole-process time of dlbind build, inspect and --version against node -e 0 and GNU as + ld', {
    runs,
    functions: sizes,
  });
  const anchors = have('as') && have('ld');
  if (!anchors) f.note('GNU as or ld is not installed: the as + ld anchors are skipped.');
  const main = buildCommandForBench();
  const dir = ctx.workDir;
  const node = process.execPath;

  const m = {
    node: f.measure({ id: 'node', label: 'node -e 0 (anchor: the floor of any command)', show: 'time' }),
    version: f.measure({ id: 'version', label: 'dlbind --version', show: 'time' }),
    inspect: f.measure({ id: 'inspect', label: 'dlbind inspect, a one-function object (text report)', show: 'time' }),
    build1: f.measure({ id: 'build-1', label: 'dlbind build, one function', show: 'time' }),
  };
  const build: Record<number, (s: number) => void> = {};
  const asld: Record<number, (s: number) => void> = {};
  const over: Record<number, (s: number) => void> = {};
  const cpuBuild: Record<number, (s: number) => void> = {};
  const cpuAsld: Record<number, (s: number) => void> = {};
  const cpuNode = f.measure({ id: 'cpu-node', label: 'CPU time (user + system): node -e 0', show: 'time' });
  const specs: Record<number, string> = {};
  const asm: Record<number, string> = {};
  for (const n of sizes) {
    const k = n.toLocaleString('en-US');
    build[n] = f.measure({ id: `build-${n}`, label: `dlbind build, ${k} functions`, show: 'time' });
    over[n] = f.measure({ id: `over-node-${n}`, label: `dlbind build, ${k} functions, less node -e 0 of the same run`, show: 'time' });
    asld[n] = f.measure({ id: `as+ld-${n}`, label: `GNU as + ld -shared, ${k} functions (anchor)`, show: 'time' });
    cpuBuild[n] = f.measure({ id: `cpu-build-${n}`, label: `CPU time: dlbind build, ${k} functions`, show: 'time' });
    cpuAsld[n] = f.measure({ id: `cpu-as+ld-${n}`, label: `CPU time: GNU as + ld -shared, ${k} functions`, show: 'time' });
    specs[n] = join(dir, `command-${n}.json`);
    writeLines(specs[n], n, (i) => `${i === 0 ? '' : ','}{"name":"${functionName(i)}","section":"text","bytes":"c3"}`, '{"symbols":[', ']}');
    asm[n] = join(dir, `command-${n}.s`);
    writeFunctionAssembly(asm[n], n, functionName);
  }
  const one = join(dir, 'command-1.json');
  writeFileSync(one, JSON.stringify({ symbols: [{ name: functionName(0), section: 'text', bytes: 'c3' }] }));
  const small = join(dir, 'command-1.so');
  const out = join(dir, 'command-out.so');
  const obj = join(dir, 'command.o');

  // One untimed round first: the files are then in the page cache for every timed one.
  for (let r = -1; r < runs; r++) {
    const t = (cmd: string, args: readonly string[]) => measureProcess(ctx.binDir, cmd, args).seconds;
    const cpu = (p: ProcessCost) => p.userSeconds + p.sysSeconds;
    const keep = r >= 0;
    const floor = measureProcess(ctx.binDir, node, ['-e', '0']);
    const nodeSeconds = floor.seconds;
    if (keep) {
      m.node(nodeSeconds);
      cpuNode(cpu(floor));
    }
    const v = t(node, [main, '--version']);
    const b1 = t(node, [main, 'build', one, '-o', small]);
    const i = t(node, [main, 'inspect', small]);
    if (keep) {
      m.version(v);
      m.build1(b1);
      m.inspect(i);
    }
    for (const n of sizes) {
      const b = measureProcess(ctx.binDir, node, [main, 'build', specs[n]!, '-o', out]);
      if (keep) {
        build[n]!(b.seconds);
        over[n]!(b.seconds - nodeSeconds);
        cpuBuild[n]!(cpu(b));
      }
      if (anchors) {
        const a = measureProcess(ctx.binDir, 'as', ['-o', obj, asm[n]!]);
        const l = measureProcess(ctx.binDir, 'ld', ['-shared', '--hash-style=both', '-o', join(dir, 'command-ld.so'), obj]);
        if (keep) {
          asld[n]!(a.seconds + l.seconds);
          cpuAsld[n]!(cpu(a) + cpu(l));
        }
      }
    }
    if (keep) ctx.log(`run ${r + 1} of ${runs} done`);
  }
  f.goal('over-node-1000', { max: 0.04, text: '≤ node -e 0 + 40 ms' });
  f.ratio('dlbind --version vs node -e 0', 'version', 'node');
  f.ratio('dlbind inspect (one function) vs node -e 0', 'inspect', 'node');
  f.ratio('dlbind build, 1,000 functions, vs node -e 0', 'build-1000', 'node');
  for (const n of sizes) {
    const k = n.toLocaleString('en-US');
    f.ratio(`dlbind build vs as + ld, ${k} functions`, `build-${n}`, `as+ld-${n}`, n >= 10_000 ? { max: 1, text: '≤ as + ld' } : undefined);
    f.ratio(`CPU time: dlbind build vs as + ld, ${k} functions`, `cpu-build-${n}`, `cpu-as+ld-${n}`);
  }
  f.note(
    `Each run starts every process once, in turn (node -e 0, --version, build of one function, inspect of its output, then for each size dlbind build and as + ld), after one untimed round. The spec file is {"symbols": [{"name": "jit_fn_<i>", "section": "text", "bytes": "c3"}, ...]}; the assembly has the same global functions, one ret each, 16-byte aligned, and ld gets --hash-style=both (dlbind's default). dlbind's time includes reading and checking the spec, building, the atomic write (fsync, rename) and the summary; its build is the in-process writer of figure 5. The CPU rows (user + system time from wait4) move less than wall time when other work shares the machine.`,
  );
  return f.result();
}
