#!/usr/bin/env node
// Runs every tests/*.test.ts in its own Node process (uvu through tsx), two at a time,
// then prints one closing line "N passed, N failed" so that CI can see that tests ran.
// Arguments filter the files by substring: `npm test -- elf reader`.
// `--arch=aarch64` (npm run test:aarch64) runs, on the arm64 Node of scripts/aarch64/runtime.mjs
// (under qemu-user on an x86_64 host), only the files tagged for it by a header line
// `// arch: aarch64`; such a file picks its machine code by process.arch (tests/helpers/code.ts).
// A file that cannot apply there (gdb, perf) has a line `// not-aarch64: <why>`, printed instead.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const arch = process.argv.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--arch='));
const header = (file, key) =>
  new RegExp(`^// ${key}: (.*)$`, 'm')
    .exec(readFileSync(join(here, file), 'utf8'))?.[1]
    ?.trim()
    .split(/\s+/);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => arch === undefined || (header(f, 'arch') ?? []).includes(arch))
  .sort();
if (arch !== undefined && arch !== 'aarch64') throw new Error(`--arch=${arch}: only aarch64 is known`);
/** How to start Node: this one, or the arm64 runtime (a command, its leading arguments, extra env). */
const target = arch === undefined ? { command: process.execPath, args: [], env: {} } : (await import('../scripts/aarch64/runtime.mjs')).prepareAarch64();
if (arch !== undefined) {
  console.log(`running ${files.length} files tagged 'arch: ${arch}' on ${target.description}`);
  // A file that cannot apply there says why on a line `// not-aarch64: <reason>`.
  for (const f of readdirSync(here).filter((x) => x.endsWith('.test.ts') && !files.includes(x))) {
    const why = header(f, `not-${arch}`);
    if (why !== undefined) console.log(`  skip on ${arch}: ${f}: ${why.join(' ')}`);
  }
}

// Emulation is several times slower: a file gets longer, and the whole run a budget of its own.
const FILE_TIMEOUT_MS = Number(process.env.DLBIND_TEST_TIMEOUT_MS ?? (arch === undefined ? 300_000 : 600_000));
const deadline = arch === undefined ? Infinity : Date.now() + Number(process.env.DLBIND_AARCH64_BUDGET_MS ?? 1_800_000);
const runStarted = Date.now();
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    // A test file may ask for Node flags on a line `// node-flags: --jitless ...`.
    const flags = header(file, 'node-flags') ?? [];
    const child = spawn(target.command, [...target.args, ...flags, '--import', 'tsx', join(here, file)], {
      cwd: join(here, '..'),
      env: { ...process.env, ...target.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // A test file that hangs must not hang CI: it is killed and counted as failed.
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      Math.min(FILE_TIMEOUT_MS, deadline - Date.now()),
    );
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) out += `\n  killed: no end after ${((Date.now() - started) / 1000).toFixed(0)} s\n`;
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const ok = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const skip = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      let fileFailed = 0;
      if (Number.isNaN(total) || Number.isNaN(ok)) fileFailed = 1;
      else fileFailed = total - ok - skip;
      if ((code !== 0 || signal) && fileFailed === 0) fileFailed = 1;
      passed += Number.isNaN(ok) ? 0 : ok;
      skipped += skip;
      failed += fileFailed;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(`\n=== ${file} (${secs}s, exit ${signal ?? code})\n${text.trimEnd()}\n`);
      if (fileFailed > 0) failures.push(file);
      resolve();
    });
  });
}

const queue = [...files];
const workers = Array.from({ length: Math.max(1, Math.min(2, availableParallelism())) }, async () => {
  while (queue.length > 0) {
    const file = queue.shift();
    if (Date.now() < deadline) await runOne(file);
    else {
      console.log(`\n=== ${file}: not run, the run's time budget is spent`);
      failed++;
      failures.push(file);
    }
  }
});
await Promise.all(workers);
if (failures.length > 0) console.log(`\nfailing files: ${failures.join(', ')}`);
const on = arch === undefined ? '' : ` (${target.description}, ${((Date.now() - runStarted) / 1000).toFixed(0)} s)`;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${on}`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
