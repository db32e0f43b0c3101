// npm run bench [-- --quick] [--only 1,5] [--out FILE] [--source]
// npm run bench -- --markdown [FILE] [--into BENCHMARKS.md]   (FILE's figures as Markdown, printed or
//   written into the results block of BENCHMARKS.md)
//
// Compiles src/ into one ESM bundle (bench/out/dlbind.mjs; --source measures
// src/ through tsx instead), runs every figure in bench/figures/ in a process
// of its own, prints each one's table as it finishes, then the goals, and
// writes the results as JSON: bench/results.json for a full run,
// bench/out/results-quick.json for --quick.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { build } from 'esbuild';
import { join } from 'node:path';
import { getLibc } from '../src/loader/libc.js';
import type { Context, FigureResult } from './lib/figure.js';
import { type Machine, type Results, goalLines, renderFigureText, renderMachineText, renderMarkdown } from './lib/report.js';
import { bytes } from './lib/stats.js';
import { benchDir, run, version } from './lib/tools.js';

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  const value = i >= 0 ? args[i + 1] : undefined;
  return value?.startsWith('--') ? undefined : value;
}

const BEGIN = '<!-- bench results: begin (npm run bench -- --markdown --into BENCHMARKS.md) -->';
const END = '<!-- bench results: end -->';

/** Replaces the results block of a Markdown file (between BEGIN and END) with `block`. */
function writeInto(file: string, block: string): void {
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} has no results block (${BEGIN} … ${END})`);
  writeFileSync(file, `${text.slice(0, a + BEGIN.length)}\n\n${block.trimEnd()}\n\n${text.slice(b)}`);
}

function machine(): Machine {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const libc = getLibc();
  return {
    cpu,
    cores: cpus().length,
    memory: bytes(totalmem()),
    kernel: release(),
    node: process.version,
    glibc: libc.gnu_get_libc_version(),
    koffi: String(libc.koffi.version),
    tools: {
      gcc: version('gcc'),
      as: version('as'),
      ld: version('ld'),
      'ld.lld': version('ld.lld'),
      readelf: version('readelf'),
    },
  };
}

const args = process.argv.slice(2);
if (args.includes('--markdown')) {
  const file = argValue(args, '--markdown') ?? join(benchDir, 'results.json');
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const into = argValue(args, '--into');
  if (into === undefined) process.stdout.write(renderMarkdown(results));
  else writeInto(into, renderMarkdown(results));
  process.exit(0);
}

const quick = args.includes('--quick');
const only = argValue(args, '--only')?.split(',').map(Number);
const outFile = argValue(args, '--out') ?? (quick ? join(benchDir, 'out', 'results-quick.json') : join(benchDir, 'results.json'));
const figuresDir = join(benchDir, 'figures');
const files = readdirSync(figuresDir)
  .filter((f) => /^\d+-.*\.ts$/.test(f))
  .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
  .filter((f) => only === undefined || only.includes(Number.parseInt(f, 10)));

/** The commit measured, and whether src/ differs from it. */
function revision(): string {
  try {
    const head = run('git', ['rev-parse', '--short', 'HEAD'], { cwd: benchDir }).trim();
    const dirty = run('git', ['status', '--porcelain', '--', '../src'], { cwd: benchDir }).trim() !== '';
    return dirty ? `${head} with uncommitted changes in src/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The CPUs' time so far from /proc/stat, in ticks: all of it, and what the hypervisor took (steal); undefined where there is none. */
function cpuTicks(): { total: number; steal: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return undefined;
  }
}

const started = Date.now();
const loadAtStart = loadavg()[0]!;
const ticksAtStart = cpuTicks();
let library = 'src/ through tsx (--source)';
delete process.env.DLBIND_BENCH_LIBRARY;
if (!args.includes('--source')) {
  const bundle = join(benchDir, 'out', 'dlbind.mjs');
  await build({
    entryPoints: [join(benchDir, 'lib', 'library-entry.ts')],
    outfile: bundle,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module';\nconst require = __benchCreateRequire(import.meta.url);" },
  });
  process.env.DLBIND_BENCH_LIBRARY = bundle;
  library = 'src/ compiled to one ESM bundle by esbuild (not run through tsx)';
}
const workDir = mkdtempSync(join(tmpdir(), 'dlbind-bench-'));
const binDir = join(benchDir, 'out', 'bin');
mkdirSync(binDir, { recursive: true });
const context: Omit<Context, 'log'> = { quick, workDir, binDir };
const contextFile = join(workDir, 'context.json');
writeFileSync(contextFile, JSON.stringify(context));

const m = machine();
console.log(`dlbind bench, ${quick ? 'quick' : 'full'} run; library: ${library}\n${renderMachineText(m)}\n`);
const figures: FigureResult[] = [];
try {
  for (const file of files) {
    const resultFile = join(workDir, `${file}.json`);
    console.log(`running ${file}`);
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(benchDir, 'lib', 'child.ts'), join(figuresDir, file), contextFile, resultFile],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    if (r.status !== 0) {
      console.log(`  ${file} failed (${r.signal ?? r.status}); its figure is left out\n`);
      continue;
    }
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as FigureResult;
    figures.push(result);
    console.log(`${renderFigureText(result)}\n`);
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

const seconds = (Date.now() - started) / 1000;
/** The share of the CPUs' time during the run that the hypervisor gave to other guests. */
function stealShare(): number | undefined {
  const end = cpuTicks();
  if (ticksAtStart === undefined || end === undefined || end.total <= ticksAtStart.total) return undefined;
  return (end.steal - ticksAtStart.steal) / (end.total - ticksAtStart.total);
}
const results: Results = {
  mode: quick ? 'quick' : 'full',
  command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
  date: new Date().toISOString(),
  seconds,
  revision: revision(),
  loadAverage: { start: loadAtStart, end: loadavg()[0]! },
  steal: stealShare(),
  library,
  machine: m,
  figures,
};
console.log('goals:');
for (const g of goalLines(figures)) console.log(`  ${g.met ? 'met   ' : 'MISSED'}  [${g.figure}] ${g.what}: ${g.result}; ${g.verdict}`);
mkdirSync(join(outFile, '..'), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
const stealText = results.steal === undefined ? '' : `; steal ${(results.steal * 100).toFixed(1)}% of the CPUs' time`;
console.log(`\n${figures.length} of ${files.length} figures in ${seconds.toFixed(0)} s${stealText}; results in ${outFile}`);
if (figures.length < files.length) process.exitCode = 1;
