#!/usr/bin/env node
// Runs every tests/*.test.ts in its own Node process (uvu through tsx), two at a time,
// then prints one closing line "N passed, N failed" so that CI can see that tests ran.
// Arguments filter the files by substring: `npm test -- elf reader`.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const FILE_TIMEOUT_MS = Number(process.env.DLBIND_TEST_TIMEOUT_MS ?? 300_000);
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    // A test file may ask for Node flags on a line `// node-flags: --jitless ...`.
    const flags =
      /^\/\/ node-flags: (.*)$/m
        .exec(readFileSync(join(here, file), 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/) ?? [];
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', join(here, file)], {
      cwd: join(here, '..'),
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // A test file that hangs must not hang CI: it is killed and counted as failed.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) out += `\n  killed: no end after ${FILE_TIMEOUT_MS / 1000} s\n`;
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
  while (queue.length > 0) await runOne(queue.shift());
});
await Promise.all(workers);
if (failures.length > 0) console.log(`\nfailing files: ${failures.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
