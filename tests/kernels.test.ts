// The writer's WebAssembly kernels (src/elf/kernels.ts) against their JavaScript twins: every
// spec must build to the same bytes (or fail with the same error) with the kernels on, with them
// off, and under node --jitless (no WebAssembly at all); the committed module must be what
// scripts/build-kernels.mjs makes of kernels.wat; and a large build's memory must go back.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { kernelMemoryBytes, kernelsAvailable, setKernelsEnabled } from '../src/elf/kernels.js';
import type { SharedObjectSpec, SymbolSpec } from '../src/elf/index.js';
import { badColumnSpecs, badKernelSpecs, buildDigest, kernelSpecs } from './helpers/kernel-specs.js';
import { tempDir } from './helpers/tools.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The digest of a build with the kernels on (for calls of at least `fewest` items, `perCall` at most a call) and off. */
function bothWays(spec: SharedObjectSpec, fewest = 256, perCall?: number): [string, string] {
  setKernelsEnabled(true, fewest, perCall);
  const on = buildDigest(spec);
  setKernelsEnabled(false);
  try {
    return [on, buildDigest(spec)];
  } finally {
    setKernelsEnabled(true);
  }
}

test('the kernels run on this machine, and turn off', () => {
  assert.ok(kernelsAvailable(), 'WebAssembly kernels available');
  setKernelsEnabled(false);
  assert.not.ok(kernelsAvailable(), 'off');
  setKernelsEnabled(true);
  assert.ok(kernelsAvailable());
});

test('the committed module is what build-kernels.mjs makes of kernels.wat', () => {
  const r = spawnSync(process.execPath, [join(here, '../scripts/build-kernels.mjs'), '--print'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(readFileSync(join(here, '../src/elf/kernels-wasm.ts'), 'utf8'), r.stdout, 'run node scripts/build-kernels.mjs');
});

test('every spec: the same bytes with the kernels and with their twins', () => {
  for (const fewest of [256, 0]) {
    for (const [name, spec] of kernelSpecs()) {
      const [on, off] = bothWays(spec, fewest);
      assert.not.match(on, /Error/, `${name} builds`);
      assert.is(on, off, `${name}, kernels from ${fewest} items`);
    }
  }
});

test('every spec and bad spec: the same with each kernel loop made in calls of 1, 2 or 3 items (pieces meet inside a bucket, a duplicate pair or a name)', () => {
  for (const perCall of [1, 2, 3]) {
    for (const [name, spec] of [...kernelSpecs(), ...badKernelSpecs(), ...badColumnSpecs()]) {
      const [on, off] = bothWays(spec, 0, perCall);
      assert.is(on, off, `${name}, kernels in calls of ${perCall}`);
    }
  }
});

test('every bad spec: the same error with the kernels and with their twins', () => {
  for (const fewest of [256, 0]) {
    for (const [name, spec] of badKernelSpecs()) {
      const [on, off] = bothWays(spec, fewest);
      assert.match(on, /^ElfBuildError: symbols\[\d+\]/, name);
      assert.is(on, off, `${name}, kernels from ${fewest} items`);
    }
  }
});

test('every bad column block: the same error with the kernels and with their twins', () => {
  for (const fewest of [256, 0]) {
    for (const [name, spec] of badColumnSpecs()) {
      const [on, off] = bothWays(spec, fewest);
      assert.match(on, /^ElfBuildError: columns\.names/, name);
      assert.is(on, off, `${name}, kernels from ${fewest} items`);
    }
  }
});

test('random names (fast-check): the same bytes or the same error both ways', () => {
  // Few letters, so that names end one another, collide in their hashes' buckets and repeat.
  const name = fc.oneof({ weight: 20, arbitrary: fc.stringMatching(/^[ab_]{1,9}$/) }, { weight: 1, arbitrary: fc.constantFrom('ä', 'bä', 'a\0b', '\0') });
  const symbols = fc.array(
    fc.record({ name, section: fc.constantFrom('text', 'data', 'rodata', 'bss'), hidden: fc.boolean(), size: fc.integer({ min: 1, max: 40 }) }),
    { minLength: 0, maxLength: 300 },
  );
  fc.assert(
    fc.property(symbols, fc.constantFrom('both', 'gnu', 'sysv'), fc.integer({ min: 1, max: 400 }), (list, hashStyle, perCall) => {
      const spec: SharedObjectSpec = {
        hashStyle: hashStyle as 'both',
        symbols: list.map(
          (s): SymbolSpec => ({
            name: s.name,
            section: s.section as 'text',
            ...(s.section === 'bss' ? { size: s.size } : { bytes: new Uint8Array(s.size).fill(0xc3) }),
            ...(s.hidden ? { visibility: 'hidden' as const } : {}),
          }),
        ),
      };
      // Kernels for every call, however small (these lists are short), their loops in calls of perCall items.
      const [on, off] = bothWays(spec, 0, perCall);
      assert.is(on, off);
    }),
    { numRuns: 400 },
  );
});

test('under --jitless (no WebAssembly) the twins run and give the same bytes', () => {
  const r = spawnSync(process.execPath, ['--jitless', '--import', 'tsx', join(here, 'helpers/kernel-specs.ts')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.is(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout) as { kernels: boolean; digests: [string, string][] };
  assert.is(child.kernels, false, 'no kernels under --jitless');
  const mine = [...kernelSpecs(), ...badKernelSpecs()].map(([name, spec]) => [name, buildDigest(spec)]);
  assert.equal(child.digests, mine);
});

test('with too little address space for a WebAssembly memory (ulimit -v) the twins run and give the same bytes', async () => {
  // tsx needs WebAssembly itself: the child is the helper bundled by esbuild, run by plain node.
  const bundle = join(tempDir('dlbind-kernels-'), 'kernel-specs.mjs');
  await build({ entryPoints: [join(here, 'helpers/kernel-specs.ts')], outfile: bundle, bundle: true, format: 'esm', platform: 'node', logLevel: 'silent' });
  const run = (limit: string) => {
    const r = spawnSync('bash', ['-c', `${limit} exec "$0" "$1"`, process.execPath, bundle], { encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { kernels: boolean; digests: [string, string][] };
  };
  const free = run('');
  assert.is(free.kernels, true, 'the bundle uses the kernels where it can');
  const limited = run('ulimit -v 3000000;');
  assert.is(limited.kernels, false, 'no kernels under ulimit -v');
  assert.equal(limited.digests, free.digests);
});

test('live libraries and small builds never instantiate the kernels; a build of 2,047 symbols does', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'helpers/kernel-live.ts')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { afterLive: false, afterBuild: true });
});

test("a large build's kernel memory goes back when its job ends; a small one's stays", async () => {
  buildDigest(kernelSpecs().find(([name]) => name === '2047 symbols, both')![1]);
  await new Promise((resolve) => setImmediate(resolve));
  const small = kernelMemoryBytes();
  assert.ok(small > 0 && small <= 1 << 20, `a small build keeps its instance (${small} bytes)`);
  buildDigest(kernelSpecs().find(([name]) => name === '100001 symbols, both')![1]);
  assert.ok(kernelMemoryBytes() > 1 << 20, `during the job: ${kernelMemoryBytes()} bytes`);
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(kernelMemoryBytes(), 0, 'dropped once the job ended');
});

test.run();
