// perf names JIT functions through the jitdump: perf record, perf inject --jit, perf report.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

test.run();
