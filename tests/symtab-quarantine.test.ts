// arch: aarch64
// The quarantine of old runs, seen by libc's own dlsym. A reader that loaded a bucket word just
// before the run was copied walks the old run: it must still find every name that stays bound
// (the old run stays intact until its quarantine has passed), and no slot of it may hold
// anything else before then, even in a small table whose fresh slots are all used.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ELF64_ST_INFO, STB_LOCAL, STT_OBJECT, SYM64_SIZE } from '../src/elf/constants.js';
import { gnuHashString } from '../src/elf/hash.js';
import { type JitLibrary, SHF_WRITE, dlcreate } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { lookupThreads } from './fixtures/robust-children.js';
import { assertNoWX } from './helpers/wx.js';

const _WORKER = new URL('./fixtures/robust-thread-worker.ts', import.meta.url);
const emulated = process.env.DLBIND_EMULATOR !== undefined;
/** src/loader/symtab.ts's QUARANTINE_MS. */
const QUARANTINE_MS = 50;

test.after.each(() => assertNoWX('after the test'));

/** The name of an entry as runBytes gives it. */
const nameOf = (e: number[]) => String.fromCharCode(...e.slice(SYM64_SIZE + 1));

/** The live table's words through the writable alias, as ld.so reads them. */
function tableOf(lib: JitLibrary) {
  const o = lib.liveObject;
  const mem = new Uint8Array(getLibc().view(o.aliasBase, o.fileSize));
  const gnu = o.layout.gnuHash!;
  const words = new Uint32Array(mem.buffer, mem.byteOffset + gnu.offset, 4);
  // The first bind brings the table to its first bucket count (5) from the one the header gave ld.so at load.
  if (lib.symbolTable.count === 0) {
    lib.bind('first_bind', lib.alloc(8, SHF_WRITE), 8);
    lib.unbind('first_bind');
  }
  const nbuckets = words[0]!;
  const bucketsAt = gnu.offset + 16 + words[2]! * 8;
  const buckets = new Uint32Array(mem.buffer, mem.byteOffset + bucketsAt, nbuckets);
  // The chain's origin, as ld.so computes it: buckets + nbuckets - symoffset.
  const chain = new Uint32Array(mem.buffer, mem.byteOffset + bucketsAt + (nbuckets - words[1]! + 1) * 4, o.layout.dynsymCapacity - 1);
  const dynsym = o.layout.dynsym.offset;
  const dynstr = o.layout.dynstr.offset;
  return {
    nbuckets,
    buckets,
    bucketOf: (name: string) => gnuHashString(name) % nbuckets,
    /** What a reader on the run at `start` can read, per entry: its 24 bytes (st_info at 4), its hash word, its name's bytes. */
    runBytes(start: number): number[][] {
      const out: number[][] = [];
      for (let i = start; ; i++) {
        const e = [...mem.subarray(dynsym + i * SYM64_SIZE, dynsym + (i + 1) * SYM64_SIZE), chain[i - 1]!];
        const name = dynstr + (e[0]! | (e[1]! << 8) | (e[2]! << 16) | (e[3]! << 24));
        for (let k = name; mem[k] !== 0 && k < name + 256; k++) e.push(mem[k]!);
        out.push(e);
        if ((chain[i - 1]! & 1) !== 0) return out;
      }
    },
  };
}

test('a reader standing on the old run of a copied bucket still finds the names that stay bound, until the copy retires (libc dlsym on the old bucket word)', async () => {
  const c = getLibc();
  const lib = dlcreate();
  try {
    const t = tableOf(lib);
    const block = lib.alloc(64, SHF_WRITE);
    const keep = 'kept_symbol';
    let other = '';
    for (let k = 0; other === ''; k++) if (t.bucketOf(`other_${k}`) === t.bucketOf(keep)) other = `other_${k}`;
    lib.bind(keep, block, 8);
    lib.bind(other, block + 8n, 8);
    const b = t.bucketOf(keep);
    for (const copy of ['timer', 'flush'] as const) {
      const old = t.buckets[b]!;
      const before = t.runBytes(old);
      // Repointing the other name copies the bucket's run: keep's entry moves to a new run.
      lib.bind(other, copy === 'timer' ? block + 16n : block + 8n, 8, undefined, { replace: true });
      const current = t.buckets[b]!;
      assert.is.not(current, old, 'the run was copied');
      // A reader that loaded the bucket word before the copy: ld.so walks the old run.
      t.buckets[b] = old;
      try {
        assert.is(c.dlsym(lib.handle, keep), block, `${keep} is found in the old run during the quarantine`);
        // The replaced name's old entry became a tombstone at once: tools never list a replaced address.
        assert.is(c.dlsym(lib.handle, other), 0n, `${other} is not found there`);
        const others = (run: number[][]) => run.filter((e) => nameOf(e) !== other);
        assert.equal(others(t.runBytes(old)), others(before), 'the rest of the old run is intact');
        if (copy === 'timer') await untilRetired(lib);
        else lib.flush({ settle: true });
        // The failing case: once the old run's entries are tombstones (STT_FILE), a reader on it misses
        // a name that is bound, which is what every run copy did at once before.
        assert.is(c.dlsym(lib.handle, keep), 0n, `after retirement (${copy}) the old run no longer answers`);
      } finally {
        t.buckets[b] = current;
      }
      assert.is(c.dlsym(lib.handle, keep), block);
    }
  } finally {
    lib.delete();
  }
});

async function untilRetired(lib: JitLibrary): Promise<void> {
  for (let t = 0; lib.symbolTable.copiesLingering > 0; t++) {
    if (t > 3000) assert.unreachable('old copies did not retire within 30 s');
    await sleep(10);
  }
}

interface Churn {
  /** The first `stable` names stay bound; the others are bound, unbound and repointed at random, at most `most` at once. */
  names: string[];
  stable: number;
  most: number;
  ops: number;
  /** Whether the room under test (slots, string bytes) is used up. */
  exhausted: () => boolean;
  /** Whether old runs must also be seen with their names' bytes reused (after the quarantine). */
  renames?: boolean;
}

/**
 * Churns a library's names while a thread calls libc dlsym on all of them, and watches every old
 * run as a reader standing on it sees it (entries, hash words, name bytes): none may change while
 * it is under the quarantine since it became unreachable.
 */
async function churnUnderReader(lib: JitLibrary, c: Churn): Promise<void> {
  const { names, stable } = c;
  const control = new Int32Array(new SharedArrayBuffer(4));
  let worker: Worker | undefined;
  try {
    const t = tableOf(lib);
    const block = lib.alloc(names.length * 8, SHF_WRITE);
    const expected = new BigInt64Array(new SharedArrayBuffer(names.length * 8));
    names.forEach((_, i) => (expected[i] = BigInt.asIntN(64, block + BigInt(i * 8))));
    const bound = names.map((_, i) => i < stable + c.most);
    names.forEach((n, i) => bound[i] && lib.bind(n, block + BigInt(i * 8), 8));
    let boundCount = stable + c.most;
    const started = lookupThreads(lib.handle, names, expected, control, 1, stable);
    worker = started.workers[0]!;
    const report = started.reports[0]!;
    const counts = started.counts;
    const exit = once(worker, 'exit');
    for (let k = 0; counts[0] === 0; k++) {
      if (k > 600 * (emulated ? 10 : 1)) assert.unreachable(`the worker did not start within ${emulated ? 300 : 30} s`);
      await sleep(50);
    }
    // Old runs as a reader standing on one sees them, with the time just before they became unreachable.
    let watched: { start: number; bytes: number[][]; since: number }[] = [];
    /** When each name was last unbound or replaced (just before): its old copies become tombstones then. */
    const droppedAt = new Map<string, number>();
    const worse = ['same', 'dropped', 'tombstoned', 'renamed', 'reused'] as const;
    /**
     * How a run differs from what a reader saw on it at `since`: not at all, in st_info only (tombstones:
     * of names unbound or replaced since, or too early), in its names' bytes only (their string space
     * was reused), or otherwise (its slots were reused).
     */
    const diff = (now: number[][], then: number[][], since: number): (typeof worse)[number] => {
      if (now.length !== then.length) return 'reused';
      let how = 0;
      now.forEach((e, k) => {
        const f = then[k]!;
        const differs = (j: number) => e[j] !== f[j];
        const at = [...Array(Math.max(e.length, f.length)).keys()].filter(differs);
        let kind = 0;
        if (at.length === 0) kind = 0;
        else if (at.length === 1 && at[0] === 4 && e[4] === 0x14) kind = (droppedAt.get(nameOf(f)) ?? Number.NEGATIVE_INFINITY) >= since ? 1 : 2;
        else kind = at.every((j) => j === 4 || j > SYM64_SIZE) ? 3 : 4;
        how = Math.max(how, kind);
      });
      return worse[how]!;
    };
    let checks = 0;
    let reusedAfter = 0;
    let renamedAfter = 0;
    let seed = 99;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    let exhausted = false;
    for (let k = 0; k < c.ops || !exhausted || reusedAfter === 0 || (c.renames === true && renamedAfter === 0); k++) {
      if (k > 20 * c.ops) break;
      const i = stable + Math.floor(random() * (names.length - stable));
      if (!bound[i] && boundCount >= stable + c.most) continue;
      const b = t.bucketOf(names[i]!);
      const since = performance.now();
      const old = t.buckets[b]!;
      const bytes = old === 0 ? [] : t.runBytes(old);
      const addr = block + BigInt(i * 8);
      if (!bound[i]) {
        lib.bind(names[i]!, addr, 8, undefined, { replace: true });
        bound[i] = true;
        boundCount++;
      } else if (random() < 0.5) {
        droppedAt.set(names[i]!, since);
        lib.unbind(names[i]!);
        bound[i] = false;
        boundCount--;
      } else {
        droppedAt.set(names[i]!, since);
        lib.bind(names[i]!, addr, 8, undefined, { replace: true });
      }
      if (old !== 0 && t.buckets[b] !== old) watched.push({ start: old, bytes, since });
      // Measured after the operation, so later than any reuse it made: a run changed while this is
      // under the quarantine since it became unreachable was reused too soon.
      const now = performance.now();
      watched = watched.filter((w) => {
        const how = diff(t.runBytes(w.start), w.bytes, w.since);
        if (now - w.since < QUARANTINE_MS) {
          checks++;
          if (how !== 'same' && how !== 'dropped')
            assert.unreachable(`the run at ${w.start} was ${how} ${(now - w.since).toFixed(1)} ms after it became unreachable`);
          return true;
        }
        // Past its quarantine: watched until it is seen reused (the few not reused yet are dropped).
        if (how === 'reused') reusedAfter++;
        if (how === 'renamed') renamedAfter++;
        return how !== 'reused' && how !== 'renamed' && watched.length < 200;
      });
      if (c.exhausted()) exhausted = true;
    }
    Atomics.store(control, 0, 1);
    const r = await report;
    await exit;
    console.log(
      `  ${r.lookups.toLocaleString('en')} lookups (${r.nulls} null), ${checks} checks of old runs in their quarantine, ${reusedAfter} seen reused after it, ${renamedAfter} with only their names' bytes reused`,
    );
    assert.equal(r.wrong, [], 'answers that were wrong, or null for a name that stays bound');
    assert.ok(exhausted, 'the table used up its fresh room');
    assert.ok(checks > 0, 'old runs were checked during their quarantine');
    // The failing case: the check sees a run change once it is reused, and runs are reused here.
    assert.ok(reusedAfter > 0, 'old runs were reused after their quarantine');
    if (c.renames === true) assert.ok(renamedAfter > 0, "old runs' name bytes were reused after their quarantine");
    for (let i = 0; i < names.length; i++) assert.is(getLibc().dlsym(lib.handle, names[i]!), bound[i] ? block + BigInt(i * 8) : 0n, names[i]);
  } finally {
    Atomics.store(control, 0, 1);
    await worker?.terminate();
  }
}

test('a small table with no fresh slots left reuses no run before its quarantine, while a thread calls dlsym: names that stay bound are always found', async () => {
  // 16 symbols: 129 slots, all used after a few dozen copies; from then on only retired runs come back.
  const lib = dlcreate(undefined, { maxSymbols: 16 });
  try {
    const table = lib.symbolTable;
    await churnUnderReader(lib, {
      names: Array.from({ length: 12 }, (_, i) => (i < 4 ? `stays_${i}` : `churns_${i}`)),
      stable: 4,
      most: 8,
      ops: emulated ? 300 : 1000,
      exhausted: () => table.highWater + 4 > table.slotCapacity,
    });
  } finally {
    lib.delete();
  }
});

test('long names replaced and unbound under string-space pressure: no name bytes are reused before their quarantine, while a thread calls dlsym', async () => {
  // 4 KiB of strings hold some 20 names of 200 bytes: churning 24 of them (at most 12 bound) uses the
  // fresh room up, and from then on a name's bytes come only from a name freed at least 50 ms before.
  const lib = dlcreate(undefined, { maxSymbols: 16, stringTableSize: 4096 });
  try {
    const long = (prefix: string, i: number) => `${prefix}_${String(i).padStart(3, '0')}_`.padEnd(200, 'x');
    await churnUnderReader(lib, {
      names: Array.from({ length: 28 }, (_, i) => (i < 4 ? long('stays', i) : long('churns', i))),
      stable: 4,
      most: 8,
      ops: emulated ? 300 : 1000,
      exhausted: () => lib.stats().stringBytesLeft < 201,
      renames: true,
    });
  } finally {
    lib.delete();
  }
});

test('a table whose slots are all in use throws ESYMFULL naming the limit, the use and the option; slots freed a moment ago come back only once their quarantine has passed (the bind waits for it)', () => {
  const lib = dlcreate(undefined, { maxSymbols: 16 });
  try {
    const table = lib.symbolTable;
    const block = lib.alloc(64, SHF_WRITE);
    const value = Number(block - lib.liveObject.loadBase);
    const shndx = lib.liveObject.layout.sectionIndex.data;
    // Local entries (a loaded object's static functions) take a slot each and count against no name limit.
    const locals: number[] = [];
    let full: unknown;
    try {
      for (;;) locals.push(table.bindLocal(`local_${locals.length}`, value, 8, ELF64_ST_INFO(STB_LOCAL, STT_OBJECT), shndx));
    } catch (err) {
      full = err;
    }
    assert.is((full as { code?: string }).code, 'ESYMFULL', String(full));
    assert.is(locals.length, table.slotCapacity - 1, 'every slot but the null symbol was used');
    assert.throws(
      () => lib.bind('global_one', block, 8),
      (err: Error) => {
        const slots = table.slotCapacity - 1;
        assert.ok(
          err.message.includes(
            `ESYMFULL: the symbol table has no room for another run of 4 slots: 0 of maxSymbols 16 bound, ${slots} of ${slots} slots used and none free`,
          ),
          err.message,
        );
        assert.match(err.message, /freed slots are reused 50 ms after they are freed; raise maxSymbols or scale at dlcreate/);
        return true;
      },
    );
    const before = performance.now();
    for (const at of locals) table.unbindLocal(at);
    // The freed slots are still in their quarantine: the bind waits for it rather than fail or reuse them now.
    lib.bind('global_one', block, 8);
    assert.ok(performance.now() - before >= QUARANTINE_MS, 'the bind took a slot only after its quarantine');
    assert.is(getLibc().dlsym(lib.handle, 'global_one'), block);
  } finally {
    lib.delete();
  }
});

test.run();
