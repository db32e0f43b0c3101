// not-aarch64: lldb cannot attach to a process under qemu-user here
// lldb attached to a live process: a function bound later into a text page
// that already held code is seen (lldb keeps a module until its file's mtime
// changes, so each announcement moves it), a pending breakpoint on it
// resolves and is hit, and `image lookup -a` names it. With debug 'off' the
// breakpoint never resolves, which shows the test can fail.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-lldb-');

function unusable(): string | undefined {
  if (!have('lldb')) return 'lldb is not installed (Debian package lldb)';
  if (process.arch !== 'x64') return 'the target JIT-compiles x86_64 code';
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the target, attaches lldb once it is ready, and returns lldb's and the target's output (undefined: attach impossible here). */
async function attachAndRun(mode: 'auto' | 'off'): Promise<{ lldb: string; target: string } | string> {
  const ready = join(dir, 'ready');
  rmSync(ready, { force: true });
  const outFile = join(dir, `target-${mode}.out`);
  const out = openSync(outFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/lldb-target.ts'], {
    env: { ...process.env, DLBIND_LLDB_DIR: dir, DLBIND_LLDB_DEBUG: mode },
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !existsSync(ready); i++) await sleep(100);
  assert.ok(existsSync(ready), readFileSync(outFile, 'utf8'));
  const r = run(
    'lldb',
    [
      '-b',
      '-p',
      String(child.pid),
      '-o',
      'breakpoint set -n jit_late',
      '-o',
      'continue',
      '-o',
      'image lookup -a $pc',
      '-o',
      'breakpoint list',
      '-o',
      'continue',
    ],
    { timeoutMs: 180_000 },
  );
  const lldb = `${r.stdout}\n${r.stderr}`;
  if (/attach failed|Operation not permitted/.test(lldb)) {
    child.kill('SIGKILL');
    await exited;
    return `lldb cannot attach here: ${/error: .*/.exec(lldb)?.[0] ?? lldb.slice(0, 200)}`;
  }
  const code = await exited;
  const target = readFileSync(outFile, 'utf8');
  assert.is(code, 0, `${target}\n${lldb}`);
  return { lldb, target };
}

test('lldb resolves a pending breakpoint on a function bound later into a page with code, and image lookup -a names it', async () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('lldb test', why);
  const got = await attachAndRun('auto');
  if (typeof got === 'string') return skipBecause('lldb test', got);
  const { lldb, target } = got;
  assert.match(target, 'same page true', target);
  assert.match(target, 'jit_late() = 7', target);
  assert.match(lldb, /Breakpoint 1: no locations \(pending\)/, lldb);
  assert.match(lldb, /1 location added to breakpoint 1/, lldb);
  assert.match(lldb, /stop reason = breakpoint 1\.1/, lldb);
  assert.match(lldb, /Summary: \S+`jit_late\n/, lldb);
  assert.match(lldb, /1: name = 'jit_late', locations = 1, resolved = 1, hit count = 1/, lldb);
});

test("with debug 'off' lldb never sees the late function: the breakpoint stays pending", async () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('lldb test', why);
  const got = await attachAndRun('off');
  if (typeof got === 'string') return skipBecause('lldb test', got);
  const { lldb, target } = got;
  assert.match(target, 'jit_late() = 7', target);
  assert.not.match(lldb, /location added to breakpoint 1/, lldb);
  assert.not.match(lldb, /Summary: \S+`jit_late/, lldb);
});

test.run();
