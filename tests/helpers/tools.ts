// Running the real tools that dlbind claims to interoperate with.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    timeout: options.timeoutMs ?? 120_000,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is not installed`);
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs a command and throws with its output if it fails. */
export function mustRun(cmd: string, args: readonly string[], options: Parameters<typeof run>[2] = {}): RunResult {
  const r = run(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const availability = new Map<string, boolean>();
/** Whether a tool is on PATH. Tests that need a missing tool print why they skip. */
export function have(tool: string): boolean {
  let ok = availability.get(tool);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
    availability.set(tool, ok);
  }
  return ok;
}

export function skipBecause(what: string, reason: string): void {
  console.log(`  skip: ${what}: ${reason}`);
}

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'dlbind-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Compiles C source with gcc into `out` and returns its path. */
export function compileC(dir: string, name: string, source: string, args: readonly string[], out: string): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, source);
  mustRun('gcc', ['-O1', '-Wall', '-o', out, src, ...args], { cwd: dir });
  return out;
}
