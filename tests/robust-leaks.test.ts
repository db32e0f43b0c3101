// node-flags: --expose-gc --max-semi-space-size=2
// arch: aarch64
// Leaks: a thousand libraries created, used and deleted leave this process with the descriptors
// and file-backed mappings it had, and its resident memory within a stated bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, SHF_WRITE, dlcreate, dladdr, dlfunc, dlsym } from '../src/index.js';
import { openFdCount, readMappings } from '../src/loader/procmaps.js';
import { returns } from './helpers/code.js';
import { tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

const CYCLES = 1000;
/**
 * Resident memory may grow by this much over the 1,000 cycles, after 100 warm-up cycles. Measured
 * here: 1.6 to 5 MiB, and not growing with more cycles: malloc arenas, koffi's and V8's caches
 * settling. A library that leaked what it touches (headers, tables, one data page; about 40 KiB)
 * would be 40 MiB over the bound's 16; a leak of 16 KiB a cycle reaches it. The young generation
 * is held at 2 MiB a semispace (node-flags above): V8 otherwise sizes it by the allocation rate,
 * up to 16 MiB, and a faster or more allocating bind path moved resident memory by 14 MiB with
 * nothing kept (the heap in use the same after 1,000 and 3,000 cycles).
 */
const RSS_BOUND_MIB = 16;
/** The heap in use after two full collections may grow by this much: 1 KiB kept per library fails it. */
const HEAP_BOUND_MIB = 1;
const dir = tempDir('dlbind-leaks-');
const gc = (globalThis as { gc?: () => void }).gc!;
/** V8 maps and unmaps anonymous memory as it likes; every mapping dlbind makes is of a file. */
const fileMappings = () => readMappings().filter((m) => m.path !== '' && !m.path.startsWith('[')).length;

/** One library's life: created (a backing file every tenth time), code and data bound, used through libc, deleted. */
function cycle(i: number): void {
  const lib = dlcreate(undefined, i % 10 === 0 ? { backing: { directory: dir } } : {});
  const f = lib.addFunction(`f${i}`, returns(i & 0xff));
  const d = lib.alloc(4096, SHF_WRITE);
  lib.write(d, new Uint8Array(4096).fill(i & 0xff));
  for (let k = 0; k < 20; k++) lib.bind(`d${k}`, d + BigInt(k * 8), 8);
  lib.unbind('d3');
  lib.free(lib.alloc(64, SHF_EXECINSTR));
  if (dlsym(lib, 'd7') !== d + 56n || dladdr(f)?.sname !== `f${i}`) throw new Error(`cycle ${i}: libc does not see the library`);
  if (i % 100 === 0 && dlfunc(f, 'int f()')() !== (i & 0xff)) throw new Error(`cycle ${i}: f() is wrong`);
  lib.delete();
}

test(`${CYCLES} create/bind/delete cycles: descriptors and file mappings where they were, resident memory within ${RSS_BOUND_MIB} MiB, the heap in use within ${HEAP_BOUND_MIB} MiB`, () => {
  for (let i = 0; i < 100; i++) cycle(i);
  gc();
  gc();
  const fds = openFdCount();
  const maps = fileMappings();
  const { rss, heapUsed } = process.memoryUsage();
  const started = performance.now();
  for (let i = 0; i < CYCLES; i++) cycle(100 + i);
  const ms = performance.now() - started;
  gc();
  gc();
  const after = process.memoryUsage();
  const grown = (after.rss - rss) / 2 ** 20;
  const heapGrown = (after.heapUsed - heapUsed) / 2 ** 20;
  console.log(
    `  ${CYCLES} cycles in ${(ms / 1000).toFixed(1)} s; resident memory grew ${grown.toFixed(1)} MiB (bound ${RSS_BOUND_MIB}), the heap in use ${heapGrown.toFixed(2)} MiB (bound ${HEAP_BOUND_MIB})`,
  );
  assert.is(openFdCount(), fds, 'open descriptors');
  assert.is(fileMappings(), maps, 'file-backed mappings');
  assert.ok(grown < RSS_BOUND_MIB, `resident memory grew ${grown.toFixed(1)} MiB`);
  assert.ok(heapGrown < HEAP_BOUND_MIB, `the heap in use grew ${heapGrown.toFixed(2)} MiB`);
});

test.run();
