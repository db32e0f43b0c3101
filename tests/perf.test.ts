// not-aarch64: perf samples the qemu process, not the arm64 code it translates
// perf names JIT functions through the jitdump: perf record, perf inject --jit, perf report;
// with the jitdump switched on by DLBIND_PERF alone; and, on a running process
// (perf record -p), through a backing file that DLBIND_BACKING_DIR puts on disk.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-perf-');

function perfUnusable(): string | undefined {
  if (!have('perf')) return 'perf is not installed';
  if (process.arch !== 'x64') return 'the target JIT-compiles x86_64 code';
  const probe = run('perf', ['record', '-e', 'cpu-clock', '-o', join(dir, 'probe.data'), '--', 'true']);
  if (probe.status !== 0) return `perf record does not work here: ${(probe.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
  return undefined;
}

test('perf report names a JIT function after perf inject --jit', () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const data = join(dir, 'perf.data');
  const rec = run('perf', ['record', '-k', 'mono', '-e', 'cpu-clock', '-o', data, '--', process.execPath, '--import', 'tsx', 'tests/fixtures/perf-target.ts'], {
    env: { ...process.env, DLBIND_JITDUMP_DIR: dir },
    timeoutMs: 120_000,
  });
  assert.is(rec.status, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, 'sum 168');
  const dumps = readdirSync(dir).filter((f) => /^jit-\d+\.dump$/.test(f));
  assert.is(dumps.length, 1, 'one jitdump file for the process');
  assert.is(readFileSync(join(dir, dumps[0]!)).readUInt32LE(0), 0x4a695444, 'jitdump magic');
  const injected = join(dir, 'perf.jit.data');
  const inj = run('perf', ['inject', '--jit', '-i', data, '-o', injected], { cwd: dir, timeoutMs: 120_000 });
  assert.is(inj.status, 0, inj.stdout + inj.stderr);
  assert.ok(existsSync(injected));
  const rep = run('perf', ['report', '-i', injected, '--stdio', '--sort', 'sym'], { cwd: dir, timeoutMs: 120_000 });
  assert.is(rep.status, 0, rep.stderr);
  const line = rep.stdout.split('\n').find((l) => l.includes('jit_hot_loop'));
  assert.ok(line, `perf report does not name jit_hot_loop:\n${rep.stdout.slice(0, 3000)}`);
  // The spinning function is where the samples are.
  const percent = Number(/([\d.]+)%/.exec(line!)?.[1]);
  assert.ok(percent > 10, line);
});

/** perf report --sort sym of `data`, after perf inject --jit when `inject`. */
function report(data: string, inject: boolean): string {
  let input = data;
  if (inject) {
    input = `${data}.jit`;
    const inj = run('perf', ['inject', '--jit', '-i', data, '-o', input], { cwd: dir, timeoutMs: 120_000 });
    assert.is(inj.status, 0, inj.stdout + inj.stderr);
  }
  const rep = run('perf', ['report', '-i', input, '--stdio', '--sort', 'dso,sym'], { cwd: dir, timeoutMs: 120_000 });
  assert.is(rep.status, 0, rep.stderr);
  return rep.stdout;
}

/** perf record of the environment-only target, run to its end with `env` added. */
function recordRun(name: string, env: NodeJS.ProcessEnv): string {
  const data = join(dir, `${name}.data`);
  const rec = run(
    'perf',
    ['record', '-k', 'mono', '-e', 'cpu-clock', '-o', data, '--', process.execPath, '--import', 'tsx', 'tests/fixtures/perf-env-target.ts'],
    {
      env: { ...process.env, ...env },
      timeoutMs: 120_000,
    },
  );
  assert.is(rec.status, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, 'sum 168');
  return data;
}

test('DLBIND_PERF alone (no perf option in the code) writes the jitdump, and perf report names the hot JIT function', () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const dumps = join(dir, 'env-dumps');
  const out = report(recordRun('env', { DLBIND_PERF: dumps }), true);
  assert.is(readdirSync(dumps).filter((f) => /^jit-\d+\.dump$/.test(f)).length, 1, 'one jitdump file for the process');
  const line = out.split('\n').find((l) => l.includes('jit_env_hot'));
  assert.ok(line, `perf report does not name jit_env_hot:\n${out.slice(0, 3000)}`);
  assert.ok(Number(/([\d.]+)%/.exec(line!)?.[1]) > 10, line);
});

test('without DLBIND_PERF the same run leaves the samples unnamed in the memfd', () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const before = readdirSync(process.cwd()).filter((f) => /^jit-\d+\.dump$/.test(f)).length;
  const out = report(recordRun('noenv', { DLBIND_PERF: '' }), true);
  assert.is(readdirSync(process.cwd()).filter((f) => /^jit-\d+\.dump$/.test(f)).length, before, 'no jitdump written');
  assert.not.match(out, 'jit_env_hot', out.slice(0, 3000));
  assert.match(out, /memfd:libperfenv\.so/, out.slice(0, 3000));
});

/** perf record -p on the running target for two seconds, and perf report while it still runs (after perf inject --jit when `inject`). */
async function recordRunning(name: string, env: NodeJS.ProcessEnv, inject = false): Promise<string> {
  const ready = join(dir, `${name}.ready`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/perf-env-target.ts'], {
    env: { ...process.env, DLBIND_PERF: '', ...env, DLBIND_PERF_TARGET_READY: ready },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    for (let i = 0; i < 600 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(ready), 'the target started');
    const data = join(dir, `${name}.data`);
    const rec = run('perf', ['record', ...(inject ? ['-k', 'mono'] : []), '-e', 'cpu-clock', '-p', String(child.pid), '-o', data, '--', 'sleep', '2'], {
      timeoutMs: 60_000,
    });
    assert.is(rec.status, 0, rec.stdout + rec.stderr);
    return report(data, inject);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

test('perf record -p on a running process with DLBIND_BACKING_DIR: perf report names the JIT function while the process runs', async () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const backing = join(existsSync('/dev/shm') ? '/dev/shm' : dir, `dlbind-perf-${process.pid}`);
  mkdirSync(backing, { mode: 0o700 });
  try {
    const out = await recordRunning('live-file', { DLBIND_BACKING_DIR: backing });
    const line = out.split('\n').find((l) => l.includes('jit_env_hot'));
    assert.ok(line, `perf report does not name jit_env_hot:\n${out.slice(0, 3000)}`);
    assert.ok(line!.includes('libperfenv.so'), line);
  } finally {
    rmSync(backing, { recursive: true, force: true });
  }
});

test('perf record -k mono -p on a process started with DLBIND_PERF, then perf inject --jit: perf report names the JIT function', async () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const out = await recordRunning('live-jitdump', { DLBIND_PERF: join(dir, 'live-dumps') }, true);
  assert.ok(
    out.split('\n').some((l) => l.includes('jit_env_hot')),
    `perf report does not name jit_env_hot:\n${out.slice(0, 3000)}`,
  );
});

test('the same with a memfd: perf cannot open /memfd:... and names nothing', async () => {
  const why = perfUnusable();
  if (why !== undefined) return skipBecause('perf test', why);
  const out = await recordRunning('live-memfd', { DLBIND_BACKING_DIR: '' });
  assert.not.match(out, 'jit_env_hot', out.slice(0, 3000));
  assert.match(out, /memfd:libperfenv\.so/, out.slice(0, 3000));
});

test.run();
