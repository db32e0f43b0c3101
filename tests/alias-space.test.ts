// node-flags: --expose-gc
// arch: aarch64
// The writable aliases' address space (src/loader/alias-space.ts): a shared WebAssembly memory
// whose buffer V8 leaves out of its external-memory count, so that the first dlcreate of a
// process with a large heap sets off no full collection of it. A plain reservation's koffi
// view (the fallback, and what dlbind made before) does set one off: shown here too.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type JitLibrary, dlcreate, dlsym } from '../src/index.js';
import { aliasSpaceKinds, setWasmAliasSpaces } from '../src/loader/alias-space.js';
import { getLibc } from '../src/loader/libc.js';
import { readMappings } from '../src/loader/procmaps.js';

/** The major collections that ran while `run` did, and its result. */
async function majorCollectionsDuring<T>(run: () => T): Promise<[number, T]> {
  const starts: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) starts.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const from = performance.now();
  const result = run();
  const to = performance.now();
  // Entries arrive after the collection, from the event loop.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return [starts.filter((t) => t >= from && t <= to).length, result];
}

// A heap of some size, settled, as a language runtime's would be when it creates its first library.
const heap = Array.from({ length: 300_000 }, (_, i) => ({ name: `object_${i}`, value: i }));

test('the first dlcreate beside a large heap runs no full collection; a koffi view in its place runs one', async () => {
  assert.equal(aliasSpaceKinds(), [], 'no library yet in this process');
  (globalThis as { gc?: () => void }).gc!();
  const [first, lib] = await majorCollectionsDuring(() => dlcreate());
  assert.equal(aliasSpaceKinds(), ['wasm']);
  assert.is(first, 0, 'full collections during the first dlcreate');
  // The alias works as before: a bound symbol is found by libc, its bytes written through the alias.
  const at = lib.alloc(8, 0);
  lib.write(at, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  lib.bind('in_wasm_space', at, 8);
  assert.is(dlsym(lib, 'in_wasm_space'), at);
  assert.equal([...new Uint8Array(getLibc().view(at, 8))], [1, 2, 3, 4, 5, 6, 7, 8], 'read at the loaded address');

  // Fill that space, then make the next one a plain reservation's view: its first library pays a full collection.
  setWasmAliasSpaces(false);
  const libs: JitLibrary[] = [lib];
  try {
    let viewed = 0;
    while (aliasSpaceKinds().length === 1) {
      (globalThis as { gc?: () => void }).gc!();
      const [collections, next] = await majorCollectionsDuring(() => dlcreate());
      libs.push(next);
      viewed = collections;
    }
    assert.equal(aliasSpaceKinds(), ['wasm', 'view']);
    assert.ok(viewed >= 1, `a full collection when the koffi view was made (${viewed})`);
    const last = libs[libs.length - 1]!;
    const p = last.alloc(8, 0);
    last.bind('in_view_space', p, 8);
    assert.is(dlsym(last, 'in_view_space'), p);
  } finally {
    setWasmAliasSpaces(true);
    for (const l of libs) l.delete();
  }
  // Both spaces empty: one is kept for the next library, the other given back.
  assert.is(aliasSpaceKinds().length, 1);
  assert.ok(heap.length > 0);
});

test('a deleted library leaves its range of the WebAssembly memory PROT_NONE, and the range is reused', () => {
  const lib = dlcreate();
  const alias = lib.alias(lib.alloc(16, 0));
  const mapping = () => readMappings().find((m) => m.start <= alias && alias < m.end)!;
  assert.is(mapping().perms, 'rw-s');
  lib.delete();
  assert.is(mapping().perms, '---p', 'the range after delete');
  const again = dlcreate();
  assert.equal(aliasSpaceKinds(), ['wasm'], 'no new space for the next library');
  again.delete();
});

test.run();
