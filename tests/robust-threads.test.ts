// arch: aarch64
// Threads: libc dlsym on other threads while the main thread binds, unbinds and repoints the
// same names, and libraries created and changed by two worker threads at once.
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gnuHashString } from '../src/elf/hash.js';
import { SHF_WRITE, dladdr, dlcreate, dlsym } from '../src/index.js';
import { lookupThreads, message, tsWorker } from './fixtures/robust-children.js';
import type { OwnerData, OwnerMessage, PerfData } from './fixtures/robust-thread-worker.js';
import { tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

const WORKER = new URL('./fixtures/robust-thread-worker.ts', import.meta.url);
// Under qemu (the arm64 suite) each lookup costs many times more; emulation cannot show weak
// memory ordering anyway, so there the test shows that the arm64 path is right, with fewer.
const emulated = process.env.DLBIND_EMULATOR !== undefined;
const LOOKUPS = emulated ? 200_000 : 1_000_000;
const SLOW = emulated ? 10 : 1;

test.after.each(() => assertNoWX('after the test'));

test(`four threads call libc dlsym ${LOOKUPS.toLocaleString('en')}+ times while the main thread binds, unbinds and repoints the names: every answer is null or the right address, and never null for a name that stays bound`, async () => {
  const hot = Array.from({ length: 48 }, (_, i) => `hot_${i}`);
  // Few slots over the 48 names: freed slots and strings come back into use all the time.
  const lib = dlcreate(undefined, { maxSymbols: 65_536 });
  const control = new Int32Array(new SharedArrayBuffer(4));
  let workers: Worker[] = [];
  try {
    // Names that stay bound in the buckets of the first 16 hot names: every copy of those runs moves them. Equal
    // modulo 5·2^15, the most buckets a table grows to (from 5, doubling), so in the same bucket at every count.
    const modulus = 163_840;
    const kept = hot.slice(0, 16).map((h) => {
      let k = 0;
      while (gnuHashString(`kept_${k}`) % modulus !== gnuHashString(h) % modulus) k++;
      return `kept_${k}`;
    });
    const STAYS = kept.length;
    const names = [...kept, ...hot];
    const block = lib.alloc(names.length * 8, SHF_WRITE);
    // Each name is only ever bound at one address: its slot in the block.
    const expected = new BigInt64Array(new SharedArrayBuffer(names.length * 8));
    names.forEach((_, i) => (expected[i] = BigInt.asIntN(64, block + BigInt(i * 8))));
    const bound = names.map((_, i) => i < STAYS || i % 2 === 0);
    names.forEach((n, i) => bound[i] && lib.bind(n, block + BigInt(i * 8), 8));
    const lookups = lookupThreads(lib.handle, names, expected, control, 4, STAYS);
    workers = lookups.workers;
    const { reports, counts } = lookups;
    const total = () => counts.reduce((a, b) => a + b, 0);
    // Wait until every worker is looking names up, so that the churn below overlaps them.
    for (let t = 0; counts.some((c) => c === 0); t++) {
      if (t > 600 * SLOW) assert.unreachable(`the workers did not start within ${30 * SLOW} s`);
      await sleep(50);
    }
    const started = performance.now();
    const ops = { bind: 0, unbind: 0, replace: 0 };
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    // Under qemu four looking-up threads can starve this one: churn until both counts are met too.
    while (total() < LOOKUPS || performance.now() - started < 1000 || ops.replace <= 1000 || ops.unbind <= 1000) {
      if (performance.now() - started > 40_000 * SLOW) break;
      for (let k = 0; k < 500; k++) {
        const i = STAYS + Math.floor(random() * hot.length);
        const addr = block + BigInt(i * 8);
        if (!bound[i]) {
          lib.bind(names[i]!, addr, 8);
          bound[i] = true;
          ops.bind++;
        } else if (random() < 0.5) {
          lib.unbind(names[i]!);
          bound[i] = false;
          ops.unbind++;
        } else {
          lib.bind(names[i]!, addr, 8, undefined, { replace: true });
          ops.replace++;
        }
      }
    }
    Atomics.store(control, 0, 1);
    const done = await Promise.all(reports);
    await Promise.all(workers.map((w) => w.terminate()));
    const sum = (k: 'lookups' | 'found' | 'nulls') => done.reduce((a, r) => a + r[k], 0);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  ${sum('lookups').toLocaleString('en')} lookups in ${seconds.toFixed(1)} s (${sum('found')} found, ${sum('nulls')} null) against ${ops.bind} binds, ${ops.unbind} unbinds, ${ops.replace} replaces`,
    );
    assert.equal(
      done.flatMap((r) => r.wrong),
      [],
      'answers that were neither null nor the right address, or null for a name that stays bound',
    );
    assert.ok(sum('lookups') >= LOOKUPS, `only ${sum('lookups')} lookups`);
    assert.ok(sum('found') > 0 && sum('nulls') > 0, 'the workers saw names both bound and unbound');
    assert.ok(ops.replace > 1000 && ops.unbind > 1000, 'enough churn');
    // The main thread's own view agrees at the end.
    names.forEach((n, i) => assert.is(dlsym(lib, n), bound[i] ? block + BigInt(i * 8) : null, n));
  } finally {
    // A failed check must not unload the library under workers still looking names up in it.
    Atomics.store(control, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
    lib.delete();
  }
});

test('a thread looks up absent names with dlsym(RTLD_DEFAULT) while a global library binds, unbinds and copies runs under it: every answer is null', async () => {
  // Misses pass the library's bloom filter, bucket words and chains on every round; none may ever find anything.
  const misses = Array.from({ length: 2000 }, (_, i) => `absent_${i}_x`);
  const lib = dlcreate(undefined, { global: true, maxSymbols: 65_536 });
  try {
    const n = 20_000;
    const block = lib.alloc(n * 8, SHF_WRITE);
    const control = new Int32Array(new SharedArrayBuffer(4));
    const started = lookupThreads(0n, misses, new BigInt64Array(new SharedArrayBuffer(misses.length * 8)), control, 1);
    const worker = started.workers[0]!;
    const report = started.reports[0]!;
    const counts = started.counts;
    for (let t = 0; counts[0] === 0; t++) {
      if (t > 600) assert.unreachable('the worker did not start within 30 s');
      await sleep(50);
    }
    const before = counts[0]!;
    let rounds = 0;
    // Binds grow every bucket's run through several copies; unbinds and replaces copy them again.
    while (rounds < 3 || counts[0]! - before < 200_000) {
      if (rounds > 200) break;
      for (let i = 0; i < n; i++) lib.bind(`present_${i}`, block + BigInt(i * 8), 8, undefined, { replace: true });
      for (let i = 0; i < n; i += 2) lib.unbind(`present_${i}`);
      rounds++;
    }
    Atomics.store(control, 0, 1);
    const r = await report;
    await worker.terminate();
    console.log(`  ${r.lookups.toLocaleString('en')} RTLD_DEFAULT misses during ${rounds} rounds of ${n} binds and ${n / 2} unbinds`);
    assert.equal(r.wrong, [], 'a miss found something');
    assert.is(r.found, 0);
    assert.ok(r.lookups - before >= 200_000, `only ${r.lookups} lookups`);
    // The failing case: the misses really crossed this library, which RTLD_DEFAULT does find names in.
    assert.is(dlsym(null, 'present_1'), block + 8n);
  } finally {
    lib.delete();
  }
});

test('two worker threads each create a library and churn it at the same time; each sees only its own names, and deletes it', async () => {
  const symbols = 20_000;
  const owners = ['alpha', 'beta'].map((prefix) => tsWorker(WORKER, { role: 'owner', prefix, symbols } satisfies OwnerData));
  // Listen for the exits now: one worker may be gone before the other's last message comes.
  const exits = owners.map((w) => once(w, 'exit'));
  const ready = await Promise.all(owners.map((w) => message<OwnerMessage>(w)));
  for (const m of ready) if (m.kind === 'failed') assert.unreachable(m.error);
  const [a, b] = ready as Extract<OwnerMessage, { kind: 'ready' }>[];
  assert.is.not(a!.handle, b!.handle);
  // The main thread finds each library's names through its handle, and only there.
  for (const i of [0, 1, 2, 3, 5, 9999, symbols - 1]) {
    assert.is(dlsym(a!.handle, a!.names[i]!), a!.addresses[i]);
    assert.is(dlsym(b!.handle, b!.names[i]!), b!.addresses[i]);
    assert.is(dlsym(a!.handle, b!.names[i]!), null);
    assert.is(dlsym(b!.handle, a!.names[i]!), null);
  }
  assert.is(dladdr(a!.addresses[42]! + 3n)?.sname, 'alpha_42');
  assert.is(dladdr(b!.addresses[42]!)?.fname, b!.path);
  for (const w of owners) w.postMessage('delete');
  const deleted = await Promise.all(owners.map((w) => message<OwnerMessage>(w)));
  assert.equal(deleted, [
    { kind: 'deleted', unloaded: true },
    { kind: 'deleted', unloaded: true },
  ]);
  assert.is(dladdr(a!.addresses[0]!), null, "alpha's library is unloaded");
  assert.is(dladdr(b!.addresses[0]!), null, "beta's library is unloaded");
  await Promise.all(exits);
});

test('perf jitdump records are refused in a worker thread (ETHREAD): the dump is one file per process', async () => {
  const dir = tempDir('dlbind-perf-worker-');
  const w = tsWorker(WORKER, { role: 'perf', directory: dir } satisfies PerfData);
  const exit = once(w, 'exit');
  assert.equal(await message<OwnerMessage>(w), { kind: 'perf', outcome: 'ETHREAD' });
  await exit;
  assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, 'no dump was written');
});

test.run();
