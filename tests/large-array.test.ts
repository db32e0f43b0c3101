// node-flags: --expose-gc
// arch: aarch64
// The writer's large arrays (src/elf/large-array.ts) sit where V8 does not count them towards
// the external-memory limit that starts a full collection of the whole heap, within a cap, and
// what the public functions return is ordinary. Speed is measured in bench/ (figure 5), never here.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildFromPlan, buildSharedObject, planSharedObject, readElf, writeSharedObject } from '../src/index.js';
import { grownTo } from '../src/elf/bytes.js';
import { LARGE_ARRAY_MIN_BYTES, LARGE_ARRAY_UNCOUNTED_CAP, largeArray, largeArrayUncountedBytes } from '../src/elf/large-array.js';
import { tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-large-array-');
const gc = (globalThis as { gc?: () => void }).gc!;
const external = () => getHeapStatistics().external_memory;
const MiB = 1024 * 1024;

/** How much V8's external-memory count grows while `make` runs (with garbage collected first). */
function counted(make: () => unknown): { grew: number; kept: unknown } {
  gc();
  const before = external();
  const kept = make();
  return { grew: external() - before, kept };
}

test('a large array is not counted as external memory; an ordinary one of the same size is', () => {
  const large = counted(() => largeArray(Uint8Array, 32 * MiB));
  const ordinary = counted(() => new Uint8Array(32 * MiB));
  assert.ok(ordinary.grew >= 32 * MiB, `an ordinary 32 MiB array grew the count by only ${ordinary.grew}`);
  assert.ok(large.grew < MiB, `a large 32 MiB array grew the count by ${large.grew}`);
  const a = large.kept as Uint8Array;
  assert.instance(a.buffer, SharedArrayBuffer);
  assert.is(a.length, 32 * MiB);
  assert.ok(
    a.every((x) => x === 0),
    'zero-filled',
  );
  for (const [kind, n] of [
    [Uint32Array, 100_000],
    [Int32Array, 100_000],
    [Float64Array, 100_000],
    [BigUint64Array, 100_000],
  ] as const) {
    const x = largeArray(kind as never, n) as ArrayLike<unknown> & { buffer: ArrayBufferLike };
    assert.instance(x, kind);
    assert.is(x.length, n);
    assert.instance(x.buffer, SharedArrayBuffer);
  }
});

test('small arrays stay ordinary, and grownTo keeps the kind and the contents', () => {
  const small = largeArray(Uint8Array, LARGE_ARRAY_MIN_BYTES - 1);
  assert.instance(small.buffer, ArrayBuffer);
  const a = Uint32Array.from({ length: 1000 }, (_, i) => i * 7);
  const b = grownTo(a, 100_000);
  assert.instance(b, Uint32Array);
  assert.instance(b.buffer, SharedArrayBuffer);
  for (let i = 0; i < 1000; i++) assert.is(b[i], i * 7);
  assert.is(b[1000], 0);
});

test('past the cap, large arrays are ordinary again (counted), and collected ones give their bytes back', async () => {
  gc();
  await settleFinalizers();
  const start = largeArrayUncountedBytes();
  const chunk = 64 * MiB;
  // In a function of its own, so that nothing of it stays reachable from this frame.
  const fillToCap = () => {
    const held: Uint8Array[] = [];
    // Untouched pages of these are never faulted in: no RSS to speak of.
    while (largeArrayUncountedBytes() + chunk <= LARGE_ARRAY_UNCOUNTED_CAP) held.push(largeArray(Uint8Array, chunk));
    assert.ok(held.length >= 1);
    for (const a of held) assert.instance(a.buffer, SharedArrayBuffer);
    const over = counted(() => largeArray(Uint8Array, chunk));
    assert.instance((over.kept as Uint8Array).buffer, ArrayBuffer);
    assert.ok(over.grew >= chunk, 'the array past the cap is counted');
  };
  fillToCap();
  for (let round = 0; round < 100 && largeArrayUncountedBytes() > start; round++) {
    gc();
    await settleFinalizers();
  }
  assert.ok(largeArrayUncountedBytes() <= start, `${largeArrayUncountedBytes()} bytes still uncounted after collection, ${start} before`);
  assert.instance(largeArray(Uint8Array, chunk).buffer, SharedArrayBuffer);
});

function settleFinalizers(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

const functions = (n: number) => ({
  hashStyle: 'both' as const,
  symbols: Array.from({ length: n }, (_, i) => ({ name: `jit_fn_${i}`, section: 'text' as const, bytes: Uint8Array.of(0xc3) })),
});

test('writeSharedObject writes what buildSharedObject returns, and what is returned is an ordinary array', () => {
  for (const n of [1, 1000, 30_000]) {
    const spec = functions(n);
    const bytes = buildSharedObject(spec);
    assert.instance(bytes.buffer, ArrayBuffer, 'buildSharedObject returns an ordinary Uint8Array');
    const built = buildFromPlan(planSharedObject(spec));
    assert.instance(built.bytes.buffer, ArrayBuffer, 'so does buildFromPlan');
    const path = join(dir, `f${n}.so`);
    assert.is(writeSharedObject(path, spec), bytes.length);
    const written = readFileSync(path);
    assert.ok(Buffer.compare(written, Buffer.from(bytes)) === 0, `${n} functions: the file differs from buildSharedObject's bytes`);
    assert.is(readElf(written).dynamicSymbols.filter((s) => s.name.startsWith('jit_fn_')).length, n);
    rmSync(path);
  }
});

test('writeSharedObject of 100,000 functions adds less to the count than the file it writes; buildSharedObject adds at least that', () => {
  const spec = functions(100_000);
  const path = join(dir, 'big.so');
  const viaFile = counted(() => writeSharedObject(path, spec));
  const size = viaFile.kept as number;
  const returned = counted(() => buildSharedObject(spec));
  assert.ok(size > 8 * MiB);
  assert.ok(returned.grew >= size, `buildSharedObject's ${size} bytes grew the count by ${returned.grew}`);
  assert.ok(viaFile.grew < size / 4, `writeSharedObject grew the count by ${viaFile.grew} for a ${size}-byte file`);
  rmSync(path);
});

test.run();
