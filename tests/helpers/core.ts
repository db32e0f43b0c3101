// Making a real core file of a child that crashes in JIT code, and running
// `dlbind core` in this process: shared by the core tests.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { run as runCommand } from '../../src/cli/program.js';

const fixture = resolve('tests/fixtures/debug-crash-target.ts');
const tsx = import.meta.resolve('tsx');

/** The command, run in this process (the same code as the dlbind binary). */
export async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCommand(args, { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { status, stdout, stderr };
}

export interface Made {
  core: string;
  how: string;
}

/** Runs the crashing fixture in `work` and returns its core, or why there is none. */
export function makeCore(work: string, env: NodeJS.ProcessEnv = {}): Made | string {
  if (process.arch !== 'x64') return 'the target JIT-compiles x86_64 code';
  mkdirSync(work, { recursive: true });
  const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  let why: string;
  if (pattern.startsWith('|') || pattern.includes('/')) why = `kernel cores go to '${pattern}', not to the crashing process's directory`;
  else {
    const r = spawnSync('sh', ['-c', 'ulimit -c unlimited || exit 99; exec "$0" --import "$1" "$2"', process.execPath, tsx, fixture], {
      cwd: work,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 99) why = 'ulimit -c unlimited is refused here';
    else {
      assert.is(r.signal, 'SIGSEGV', `${r.status} ${r.stdout}${r.stderr}`);
      const cores = readdirSync(work).filter((f) => f.startsWith(pattern.split('%')[0]!) && statSync(join(work, f)).isFile());
      if (cores.length === 1) return { core: join(work, cores[0]!), how: 'kernel' };
      why = `the kernel wrote no core (core_pattern '${pattern}')`;
    }
  }
  // gdb's gcore would do, but of a Node process it writes a core of about 32 GB here (every
  // reserved mapping, in real blocks): the tests skip instead.
  return why;
}
