// The native toolchain as the bench drives it: finding tools, running them
// (timed, with their peak RSS through a small wait4 wrapper), compiling the C
// helpers, and writing the assembly the anchors assemble.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Whether a command is on PATH. */
export function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1"`, 'sh', tool], { stdio: 'ignore' }).status === 0;
}

/** Runs a command to completion and throws with its output when it fails. Its stdout is returned unless `quiet`. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', options.quiet ? 'ignore' : 'pipe', 'pipe'],
  });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stderr}`);
  return r.stdout ?? '';
}

/** The first line of `tool --version`, or why there is none. */
export function version(tool: string, flag = '--version'): string {
  if (!have(tool)) return 'not installed';
  const r = spawnSync(tool, [flag], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim();
}

/** Compiles bench/c/<name>.c into binDir, unless an up-to-date binary is there. Returns its path. */
export function cHelper(binDir: string, name: string, flags: readonly string[] = []): string {
  const src = join(benchDir, 'c', `${name}.c`);
  const out = join(binDir, name);
  const newest = Math.max(statSync(src).mtimeMs, statSync(join(benchDir, 'c', 'bench.h')).mtimeMs);
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(binDir, { recursive: true });
  run('gcc', ['-O2', '-Wall', '-o', out, src, ...flags], { quiet: true });
  return out;
}

export interface ProcessCost {
  /** Wall time of the whole process, fork to reap. */
  seconds: number;
  /** Peak resident set (ru_maxrss), in bytes. */
  maxRss: number;
  userSeconds: number;
  sysSeconds: number;
}

/** Runs a command under the wait4 wrapper; its stdout is discarded unless `stdout` names a file. */
export function measureProcess(binDir: string, cmd: string, args: readonly string[], options: { cwd?: string; stdout?: string } = {}): ProcessCost {
  const wrapper = cHelper(binDir, 'rusage');
  const report = join(binDir, `rusage-${process.pid}.json`);
  const fd = options.stdout === undefined ? 'ignore' : openSync(options.stdout, 'w');
  try {
    const r = spawnSync(wrapper, [report, cmd, ...args], { cwd: options.cwd, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stderr}`);
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
  const j = JSON.parse(readFileSync(report, 'utf8')) as { wallNs: number; maxRssKiB: number; userNs: number; sysNs: number };
  rmSync(report, { force: true });
  return { seconds: j.wallNs / 1e9, maxRss: j.maxRssKiB * 1024, userSeconds: j.userNs / 1e9, sysSeconds: j.sysNs / 1e9 };
}

/** Writes a file in chunks of lines, so that a million-symbol assembly file never sits in one string. */
export function writeLines(path: string, count: number, line: (i: number) => string, head = '', tail = ''): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    const CHUNK = 10_000;
    for (let i = 0; i < count; i += CHUNK) {
      let s = '';
      for (let j = i; j < Math.min(count, i + CHUNK); j++) s += line(j);
      writeSync(fd, s);
    }
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
  }
}

const NOTE_GNU_STACK = '\t.section .note.GNU-stack,"",@progbits\n';

/** Assembly for `names.length` 8-byte zeroed data objects, the equivalent of binding them in .data. */
export function writeDataAssembly(path: string, names: readonly string[]): void {
  writeLines(
    path,
    names.length,
    (i) => `\t.globl ${names[i]}\n\t.type ${names[i]}, @object\n\t.size ${names[i]}, 8\n\t.p2align 3\n${names[i]}:\n\t.quad 0\n`,
    '\t.data\n',
    NOTE_GNU_STACK,
  );
}

/** Assembly for `count` one-byte functions (`ret`), 16-byte aligned, named by `name(i)`. */
export function writeFunctionAssembly(path: string, count: number, name: (i: number) => string): void {
  writeLines(
    path,
    count,
    (i) => `\t.globl ${name(i)}\n\t.type ${name(i)}, @function\n\t.p2align 4\n${name(i)}:\n\tret\n\t.size ${name(i)}, 1\n`,
    '\t.text\n',
    NOTE_GNU_STACK,
  );
}
