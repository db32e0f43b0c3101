// arch: aarch64
// The live GNU table's bucket count grows with the symbols bound (src/loader/symtab.ts,
// src/loader/link-map-buckets.ts): a library starts with 5 buckets, in ld.so's link_map and in
// its header, so that dladdr walks 5 bucket words, and the count doubles its way up as names
// come, so that chains stay short. Every name is found through every growth, by this process's
// libc, by four threads looking names up meanwhile, and by another process loading the file;
// the tools read the file as a linker's. And the word raised is the one ld.so divides by. Once a
// burst of binds is over, the event loop splits the classes the growths left shared, so that
// dladdr walks each entry once; binds keep their room.
import { writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type JitLibrary, SHF_WRITE, dladdr, dlcreate, readElf } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { cachedShapeOf, findCachedBucketCount } from '../src/loader/link-map-buckets.js';
import { findAllSource } from './fixtures/find-all.js';
import { lookupThreads, runNode } from './fixtures/robust-children.js';
import { compileC, have, mustRun, skipBecause, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

const emulated = process.env.DLBIND_EMULATOR !== undefined;
const N = emulated ? 10_000 : 100_000;
const dir = tempDir('dlbind-growth-');

test.after.each(() => assertNoWX('after the test'));

/** The header's nbuckets and symoffset, as the file says them to tools and to another process's ld.so. */
function fileShape(lib: JitLibrary): [number, number] {
  const gnu = readElf(new Uint8Array(readFileSync(lib.path))).gnuHash!;
  return [gnu.nbuckets, gnu.symoffset];
}

/**
 * The first `bytes` of the live GNU table (all of it by default) as 32-bit words, read in the
 * mapping as ld.so reads it (the default library's file is 600 MB, mostly holes).
 */
function liveGnuWords(lib: JitLibrary, bytes?: number): Uint32Array {
  const o = lib.liveObject;
  const gnu = o.layout.gnuHash!;
  return new Uint32Array(getLibc().view(o.loadBase + BigInt(gnu.addr), bytes ?? gnu.size));
}

/** What libc's dladdr walks in the live GNU table: every non-empty bucket's chain to its end bit. */
function dladdrWalk(lib: JitLibrary): { walked: number; distinct: number } {
  const words = liveGnuWords(lib);
  const [nbuckets, symoffset, bloomWords] = [words[0]!, words[1]!, words[2]!];
  const buckets = 4 + 2 * bloomWords;
  // Symbol i's hash word: after the buckets, from symoffset on.
  const chainZero = buckets + nbuckets - symoffset;
  const seen = new Set<number>();
  let walked = 0;
  for (let b = 0; b < nbuckets; b++) {
    const first = words[buckets + b]!;
    if (first === 0) continue;
    for (let i = first; ; i++) {
      if (chainZero + i >= words.length) assert.unreachable(`bucket ${b}'s chain runs past the table`);
      walked++;
      seen.add(i);
      if ((words[chainZero + i]! & 1) !== 0) break;
    }
  }
  return { walked, distinct: seen.size };
}

/** ld.so's l_nbuckets of `lib`, found by what it caches for the table's present shape. */
function ldsoCount(lib: JitLibrary): Uint32Array | undefined {
  const o = lib.liveObject;
  const header = liveGnuWords(lib, 16);
  return findCachedBucketCount(
    cachedShapeOf(o.linkMap, o.loadBase, o.layout.gnuHash!.addr, {
      nbuckets: header[0]!,
      symoffset: header[1]!,
      bloomWords: header[2]!,
      bloomShift: header[3]!,
    }),
  );
}

test(`a default library's first bind brings it to 5 buckets in ld.so and in its header; ${N.toLocaleString('en')} binds raise both, and libc dlsym and dladdr find every name all the way; the raised word is the one ld.so divides by`, async () => {
  const c = getLibc();
  const lib = dlcreate();
  try {
    // Until the first bind, the count the header gave ld.so at load (an idle library never looks for the word).
    assert.is(lib.symbolTable.nbuckets, 2048);
    assert.equal(fileShape(lib), [2048, 2044]);
    assert.is(ldsoCount(lib)?.[0], 2048, "ld.so's l_nbuckets at load");
    const block = lib.alloc(N * 8, SHF_WRITE);
    const names = Array.from({ length: N }, (_, i) => `module_${i % 97}.function_${i}`);
    const addr = (i: number) => block + BigInt(i * 8);
    lib.bind(names[0]!, addr(0), 8);
    assert.is(lib.symbolTable.nbuckets, 5);
    assert.equal(fileShape(lib), [5, 1]);
    assert.is(ldsoCount(lib)?.[0], 5, "ld.so's l_nbuckets after the first bind");
    const counts = new Set<number>([5]);
    for (let i = 1; i < N; i++) {
      lib.bind(names[i]!, addr(i), 8);
      if (i % 500 === 499) counts.add(lib.symbolTable.nbuckets);
      if (i % 2000 === 1999) {
        let wrong = 0;
        for (let k = i % 7; k <= i; k += 7) if (c.dlsym(lib.handle, names[k]!) !== addr(k)) wrong++;
        assert.is(wrong, 0, `names not found after ${i + 1} binds, at ${lib.symbolTable.nbuckets} buckets`);
        // Now and then the timers run: a growth's second half may come from a bind or from one.
        if (i % 10_000 === 9999) await sleep(60);
      }
    }
    lib.flush({ settle: true });
    const nb = lib.symbolTable.nbuckets;
    counts.add(nb);
    // How many steps depends on time (each waits out a 50 ms quarantine): at least two after the first count.
    assert.ok(counts.size >= 3, `the count grew in steps: ${[...counts].join(', ')}`);
    assert.ok(nb >= N / 2 && nb <= N, `${nb} buckets for ${N} symbols`);
    assert.equal(fileShape(lib), [nb, 1 + nb - 5]);
    let missing = 0;
    for (let i = 0; i < N; i++) if (c.dlsym(lib.handle, names[i]!) !== addr(i)) missing++;
    assert.is(missing, 0);
    for (let i = 0; i < N; i += Math.floor(N / 50)) assert.is(dladdr(addr(i))?.sname, names[i], `dladdr of ${names[i]}`);

    // Put ld.so's count back where it started: most names are then looked for in the wrong bucket.
    const word = ldsoCount(lib);
    assert.ok(word !== undefined && word[0] === nb, "ld.so's l_nbuckets is the table's count");
    word[0] = 5;
    let lost = 0;
    for (let i = 0; i < 1000; i++) if (c.dlsym(lib.handle, names[i]!) === 0n) lost++;
    word[0] = nb;
    assert.ok(lost > 900, `only ${lost} of 1000 names missed with l_nbuckets at 5`);
    for (let i = 0; i < 1000; i++) assert.is(c.dlsym(lib.handle, names[i]!), addr(i));
  } finally {
    lib.delete();
  }
});

test('a lookup that read the count before a raise, and divides by it, still finds every name while the raise is younger than the quarantine; after it, classes split and such a lookup misses', async () => {
  const c = getLibc();
  const lib = dlcreate();
  try {
    const n = 400;
    const block = lib.alloc(2 * n * 8, SHF_WRITE);
    const names = Array.from({ length: 2 * n }, (_, i) => `old_count_${i}`);
    const addr = (i: number) => block + BigInt(i * 8);
    /** How many of the first `count` names libc's dlsym misses while ld.so's count reads `old` (as a lookup that read it before the raises). */
    const missedAt = (old: number, count: number): number => {
      const word = ldsoCount(lib)!;
      const now = word[0]!;
      word[0] = old;
      let missed = 0;
      for (let i = 0; i < count; i++) if (c.dlsym(lib.handle, names[i]!) !== addr(i)) missed++;
      word[0] = now;
      return missed;
    };
    // The first binds raise the count from 5 to 320 at once (no slots to empty), copying runs (full ones) as they go.
    const began = performance.now();
    for (let i = 0; i < n; i++) lib.bind(names[i]!, addr(i), 8);
    const grownTo = lib.symbolTable.nbuckets;
    const young = missedAt(5, n);
    const took = performance.now() - began;
    assert.ok(grownTo >= 160, `${grownTo} buckets after ${n} binds`);
    // Within the quarantine of the raises (50 ms) no class was split past 5: the bucket a lookup dividing by 5 picks holds every name.
    if (took < 40) assert.is(young, 0, `a lookup dividing by the count before the raises missed ${young} of ${n} names, ${took.toFixed(1)} ms after them`);
    else skipBecause('the old-count lookup within the quarantine', `binds and lookups took ${took.toFixed(0)} ms, past the raises' quarantine`);
    // Once the raises are older than the quarantine, copies split the classes to the present count: dividing by 5 then misses.
    await sleep(60);
    for (let i = n; i < 2 * n; i++) lib.bind(names[i]!, addr(i), 8);
    lib.flush({ settle: true });
    assert.ok(missedAt(5, 2 * n) > n, 'a lookup dividing by 5 finds most names after the classes split');
    for (let i = 0; i < 2 * n; i++) assert.is(c.dlsym(lib.handle, names[i]!), addr(i));
  } finally {
    lib.delete();
  }
});

test('after growth and settle, the live file reads as a linker would write it: nm -D lists the bound names once, readelf warns of nothing, eu-elflint finds no error, and another process that loads it finds every name', () => {
  const lib = dlcreate();
  try {
    const n = emulated ? 5000 : 30_000;
    const block = lib.alloc(n * 8, SHF_WRITE);
    const names = Array.from({ length: n }, (_, i) => `jit_${i}`);
    names.forEach((name, i) => lib.bind(name, block + BigInt(i * 8), 8));
    // Some unbinds and replaces, so that runs were copied and classes split.
    for (let i = 0; i < n; i += 13) lib.unbind(names[i]!);
    for (let i = 1; i < n; i += 17) lib.bind(names[i]!, block + BigInt(i * 8), 8, undefined, { replace: true });
    lib.flush({ settle: true });
    // A replace of an unbound name binds it again.
    const bound = names.filter((_, i) => i % 13 !== 0 || i % 17 === 1);
    assert.ok(lib.symbolTable.nbuckets > 1024, `${lib.symbolTable.nbuckets} buckets`);
    const nm = mustRun('nm', ['-D', lib.path]).stdout.trim().split('\n');
    const listed = nm.map((l) => l.split(' ').pop()!);
    const want = new Set(bound);
    assert.equal(
      { count: listed.length, unexpected: listed.filter((x) => !want.has(x)).slice(0, 5), absent: bound.filter((x) => !listed.includes(x)).slice(0, 5) },
      { count: bound.length, unexpected: [], absent: [] },
    );
    const re = mustRun('readelf', ['-W', '--dyn-syms', lib.path]);
    assert.is(re.stderr, '');
    if (have('eu-elflint')) assert.match(mustRun('eu-elflint', ['--gnu-ld', lib.path]).stdout, /No errors/);
    else skipBecause('eu-elflint on the live file', 'eu-elflint is not installed');
    const list = join(dir, 'bound.txt');
    writeFileSync(list, `${bound.join('\n')}\n`);
    const exe = compileC(dir, 'find-all', findAllSource(), ['-ldl'], join(dir, 'find-all'));
    assert.is(mustRun(exe, [lib.path, list]).stdout.trim(), `${bound.length} names, 0 wrong`);
  } finally {
    lib.delete();
  }
});

test('four threads call libc dlsym on names that stay bound while the main thread binds, unbinds and repoints thousands of others through every growth of the bucket count: never null, never wrong', async () => {
  const lib = dlcreate();
  const control = new Int32Array(new SharedArrayBuffer(4));
  let workers: Awaited<ReturnType<typeof lookupThreads>>['workers'] = [];
  try {
    const kept = Array.from({ length: 64 }, (_, i) => `kept_${i}`);
    const block = lib.alloc(kept.length * 8 + 8, SHF_WRITE);
    const expected = new BigInt64Array(new SharedArrayBuffer(kept.length * 8));
    kept.forEach((name, i) => {
      lib.bind(name, block + BigInt(i * 8), 8);
      expected[i] = BigInt.asIntN(64, block + BigInt(i * 8));
    });
    const lookups = lookupThreads(lib.handle, kept, expected, control, 4, kept.length);
    workers = lookups.workers;
    for (let t = 0; lookups.counts.some((x) => x === 0); t++) {
      if (t > 600) assert.unreachable('the workers did not start');
      await sleep(50);
    }
    const other = block + BigInt(kept.length * 8);
    const steps = new Set<number>([lib.symbolTable.nbuckets]);
    const total = emulated ? 6000 : 60_000;
    for (let i = 0; i < total; i++) {
      lib.bind(`churn_${i}`, other, 8);
      if (i % 7 === 6) lib.unbind(`churn_${i - 3}`);
      if (i % 11 === 10) lib.bind(`churn_${i - 1}`, other, 8, undefined, { replace: true });
      // Breaks for the timers, so that growths finish while the threads look names up.
      if (i % 500 === 499) {
        steps.add(lib.symbolTable.nbuckets);
        await sleep(2);
      }
    }
    lib.flush({ settle: true });
    steps.add(lib.symbolTable.nbuckets);
    Atomics.store(control, 0, 1);
    const done = await Promise.all(lookups.reports);
    const sum = done.reduce((a, r) => a + r.lookups, 0);
    console.log(`  ${sum.toLocaleString('en')} lookups through bucket counts ${[...steps].join(', ')}`);
    assert.equal(
      done.flatMap((r) => r.wrong),
      [],
      'answers null or wrong for names that stay bound',
    );
    assert.ok(steps.size >= 3, `the count grew in steps: ${[...steps].join(', ')}`);
  } finally {
    Atomics.store(control, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
    lib.delete();
  }
});

test("with ld.so's count not found (DLBIND_FIXED_BUCKETS=1 stands in for a C library laid out otherwise) the table keeps its load count, and works as before: every name found, the slots under the buckets tombstones that tools do not list", async () => {
  const r = await runNode([join(import.meta.dirname, 'fixtures', 'symtab-fixed-buckets.ts')], { env: { ...process.env, DLBIND_FIXED_BUCKETS: '1' } });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(report, { nbuckets: 2048, shape: [2048, 2044], missing: 0, nmExact: true, readelfWarnings: '' });
  // And the other way, in this process: the count is found.
  const lib = dlcreate();
  try {
    lib.bind('one', lib.alloc(8, SHF_WRITE), 8);
    assert.is(lib.symbolTable.nbuckets, 5);
  } finally {
    lib.delete();
  }
});

for (const [shape, options] of [
  ['a default library', undefined],
  ['a library sized to the burst (maxSymbols: 3,000), where slots are scarce', { maxSymbols: 3000 }],
] as const) {
  test(`after a burst of binds into ${shape}, the event loop splits the classes the growths left shared, once their quarantine is over: dladdr then walks each entry once (it walked a shared run once per bucket of its class), and every name is still found`, async () => {
    const lib = dlcreate(undefined, options);
    try {
      const n = 3000;
      const block = lib.alloc(n * 8, SHF_WRITE);
      const names = Array.from({ length: n }, (_, i) => `jit_fn_${i}`);
      for (let i = 0; i < n; i++) lib.bind(names[i]!, block + BigInt(i * 8), 8);
      // Right after the burst, buckets share their class's run: the case this is about.
      const before = dladdrWalk(lib);
      assert.ok(before.walked > before.distinct, `dladdr walks ${before.walked} entries for ${before.distinct} right after the burst`);
      let after = before;
      const deadline = performance.now() + 5000;
      while (after.walked !== after.distinct) {
        if (performance.now() > deadline) assert.unreachable(`not settled within 5 s: dladdr walks ${after.walked} entries for ${after.distinct}`);
        await sleep(20);
        after = dladdrWalk(lib);
      }
      assert.ok(after.distinct >= n, `${after.distinct} entries walked once each`);
      const c = getLibc();
      for (let i = 0; i < n; i++) assert.is(c.dlsym(lib.handle, names[i]!), block + BigInt(i * 8), names[i]);
      for (let i = 0; i < n; i += 97) assert.is(dladdr(block + BigInt(i * 8))?.sname, names[i]);
    } finally {
      lib.delete();
    }
  });
}

test('settling between binds leaves binds their room: a library filled to maxSymbols in a burst, left to settle, then half unbound and bound again under new names, three times, binds every name, and dlsym finds each', async () => {
  const n = 4096;
  const lib = dlcreate(undefined, { maxSymbols: n });
  try {
    const block = lib.alloc(n * 8, SHF_WRITE);
    // Slot i holds one name at a time; round r renames every other slot.
    const current = Array.from({ length: n }, (_, i) => `r0_${i}`);
    for (let i = 0; i < n; i++) lib.bind(current[i]!, block + BigInt(i * 8), 8);
    for (let round = 1; round <= 3; round++) {
      await sleep(120);
      for (let i = round % 2; i < n; i += 2) {
        assert.ok(lib.unbind(current[i]!), current[i]);
        current[i] = `r${round}_${i}`;
        lib.bind(current[i]!, block + BigInt(i * 8), 8);
      }
    }
    assert.is(lib.symbolTable.count, n);
    const c = getLibc();
    for (let i = 0; i < n; i++) assert.is(c.dlsym(lib.handle, current[i]!), block + BigInt(i * 8), current[i]);
  } finally {
    lib.delete();
  }
});

test.run();
