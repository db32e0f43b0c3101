// arch: aarch64
// W^X, watched while it matters: another thread samples /proc/self/maps as fast as it can while
// this one allocates, writes, binds, calls and frees code and data, and creates and deletes
// libraries. No mapping of a library is ever writable and executable, its executable text is
// never writable, and its writable alias is never executable. And the alias is not at a fixed
// distance from the text it aliases.
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, SHF_WRITE, dlalias, dlcreate, dlfunc, dlsym, type JitLibrary } from '../src/index.js';
import { readMappings } from '../src/loader/procmaps.js';
import { returns as ret } from './helpers/code.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

// qemu-user rebuilds /proc/self/maps for every read: the arm64 suite gets fewer samples.
const MIN_SAMPLES = process.env.DLBIND_EMULATOR === undefined ? 200 : 50;

interface SamplerReport {
  samples: number;
  /** Samples in which a mapping of a library was seen executable (so the watch saw what it watches). */
  sawText: number;
  violations: string[];
}

/**
 * A plain JavaScript worker (no TypeScript needed) that reads /proc/self/maps in a loop until
 * told to stop, and reports every file-backed mapping that is writable and executable, and every
 * mapping of a live library (a memfd named libdlbind-*) that is executable and writable, or
 * shared-writable and executable.
 */
const SAMPLER = `
const { readFileSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const stop = new Int32Array(workerData.stop);
const report = { samples: 0, sawText: 0, violations: [] };
const line = /^([0-9a-f]+-[0-9a-f]+) (\\S{4}) \\S+ \\S+ \\d+\\s*(.*)$/;
while (Atomics.load(stop, 0) === 0) {
  const maps = readFileSync('/proc/self/maps', 'latin1');
  let text = false;
  for (const l of maps.split('\\n')) {
    const m = line.exec(l);
    if (m === null) continue;
    const perms = m[2], path = m[3];
    const w = perms[1] === 'w', x = perms[2] === 'x';
    const ours = path.includes('libdlbind-');
    if (ours && x) text = true;
    if ((w && x && path !== '') || (ours && w && x)) {
      if (report.violations.length < 20) report.violations.push(l);
    }
  }
  report.samples++;
  Atomics.store(stop, 1, report.samples);
  if (text) report.sawText++;
}
parentPort.postMessage(report);
`;

function startSampler(): { stop: () => Promise<SamplerReport>; started: Promise<void>; samples: () => number } {
  // [0]: set to 1 to stop the sampler; [1]: the samples it has taken so far.
  const stop = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(SAMPLER, { eval: true, workerData: { stop: stop.buffer } });
  const report = new Promise<SamplerReport>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return {
    started: new Promise((resolve) => w.once('online', () => resolve())),
    samples: () => Atomics.load(stop, 1),
    stop: async () => {
      Atomics.store(stop, 0, 1);
      return report;
    },
  };
}

/** One round of everything that touches a library's mappings. */
function churn(lib: JitLibrary, round: number, live: bigint[]): void {
  const code = ret(round);
  const f = lib.alloc(code.length + (round % 200), SHF_EXECINSTR);
  lib.write(f, code);
  lib.bind(`f${round % 64}`, f, code.length, undefined, { replace: true });
  if (round % 16 === 0 && dlfunc(dlsym(lib, `f${round % 64}`)!, 'int f()')() !== round) throw new Error(`f${round % 64} did not return ${round}`);
  const d = lib.alloc(64, round % 2 === 0 ? SHF_WRITE : 0);
  lib.write(d, new Uint8Array(64).fill(round & 0xff));
  live.push(f, d);
  // Keep about 400 blocks alive; free the oldest, which unbinds what is bound there.
  while (live.length > 400) lib.free(live.shift()!);
}

test('while another thread samples /proc/self/maps, no library mapping is ever writable+executable, through 2 s of alloc, write, bind, call, free, create and delete', async () => {
  const sampler = startSampler();
  await sampler.started;
  let rounds = 0;
  let created = 0;
  let report: SamplerReport;
  try {
    const libs = [dlcreate(undefined, { text: 1 << 20 }), dlcreate(undefined, { text: 1 << 16, backing: 'memfd' })];
    const live = libs.map(() => [] as bigint[]);
    const started = performance.now();
    // 2 s at least, and until the sampler has taken enough samples (slow under emulation), within 2 min.
    const elapsed = () => performance.now() - started;
    while (elapsed() < 2000 || (sampler.samples() < MIN_SAMPLES && elapsed() < 120_000)) {
      for (let k = 0; k < 50; k++, rounds++) libs.forEach((lib, i) => churn(lib, rounds, live[i]!));
      if (rounds % 500 === 0) {
        // A library comes and goes: ld.so maps and unmaps, we add and drop the alias and the shared data.
        const extra = dlcreate();
        extra.addFunction('short_lived', ret(7));
        extra.delete();
        created++;
      }
    }
    for (const lib of libs) lib.delete();
  } finally {
    // Stopped whatever happened, so that a failure above ends the test instead of leaving the sampler spinning.
    report = await sampler.stop();
  }
  console.log(`  ${rounds} rounds, ${created} extra libraries; ${report.samples} samples of /proc/self/maps, ${report.sawText} showing library text`);
  assert.equal(report.violations, [], 'writable+executable mappings seen by the sampler');
  assert.ok(report.samples >= MIN_SAMPLES, `only ${report.samples} samples`);
  assert.ok(report.sawText >= report.samples / 2, 'the sampler saw the libraries most of the time');
});

test('the executable text is read+execute and private, the alias read+write and shared, for every library', () => {
  const libs = Array.from({ length: 4 }, () => dlcreate());
  try {
    for (const lib of libs) {
      const f = lib.addFunction('f', ret(1));
      const maps = readMappings();
      const at = (addr: bigint) => maps.find((m) => m.start <= addr && addr < m.end)!;
      assert.is(at(f).perms, 'r-xp');
      assert.is(at(dlalias(lib, f)).perms, 'rw-s');
    }
  } finally {
    for (const lib of libs) lib.delete();
  }
});

test('the writable alias is not at a fixed distance from the text: eight libraries, eight distances', () => {
  const libs = Array.from({ length: 8 }, () => dlcreate(undefined, { text: 1 << 16, rodata: 1 << 12, data: 1 << 12 }));
  try {
    const distances = libs.map((lib) => {
      const f = lib.addFunction('f', ret(2));
      return dlalias(lib, f) - f;
    });
    console.log(`  alias - text: ${distances.map((d) => `${d < 0n ? '-' : ''}0x${(d < 0n ? -d : d).toString(16)}`).join(', ')}`);
    assert.is(new Set(distances).size, distances.length, 'two libraries share an alias distance');
    // Nor right next to it: the alias is nowhere near the library it aliases. That needs the
    // reservation's address hint, which qemu-user ignores (its own mmap places the space, maybe
    // within a few times the library's size of it); there only the distances' spread is shown.
    if (process.env.DLBIND_EMULATOR) {
      console.log('  under qemu-user: the address hint is ignored, so the distance is not checked against the size');
      return;
    }
    for (const [i, lib] of libs.entries()) {
      const size = BigInt(lib.liveObject.fileSize);
      const d = distances[i]!;
      assert.ok(d > size * 4n || d < -size * 4n, `alias ${d} bytes from its text`);
    }
  } finally {
    for (const lib of libs) lib.delete();
  }
});

test.run();
