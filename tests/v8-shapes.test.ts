// The bind path keeps its hidden classes through a fresh process's first binds: no field of the
// objects a bind touches changes representation (a small integer turned double, a number turned
// tagged). Such a change deprecates the object's hidden class, and every map that shares its
// layout, while V8 is still compiling the bind path, which then deoptimizes and recompiles: the
// live table's growReadyAt, a 0 turned double at the first growth, cost a fifth of the first
// 20,000 binds. V8 reports each change with --trace-generalization.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from './helpers/tools.js';

/** The modules a bind runs through (dlcreate's and dlalloc's own objects are made once, outside the loop). */
const BIND_PATH = /src\/(loader\/(symtab|binder|block-symbols|bloom|debugger|link-map-buckets)|api\/jit)\.ts:/;
/** A field that was a small integer (s), a double (d) or a heap object (h) and is now another kind, or a map deprecated. */
const REPRESENTATION_CHANGE = /s\{[^}]*\}->[dt]\{|d\{[^}]*\}->t\{|h\{[^}]*\}->t\{|\(\+\d+ maps\)/;

const CHILD = `
import { dlcreate, dlalloc, dlbind, dldelete, SHF_WRITE } from './src/index.ts';
const n = 6000;
const names = Array.from({ length: n }, (_, i) => 'jit_obj_' + i);
const lib = dlcreate(undefined, { maxSymbols: n });
const base = dlalloc(lib, 8 * n, SHF_WRITE);
const addrs = names.map((_, i) => base + BigInt(8 * i));
for (let i = 0; i < n; i++) dlbind(lib, names[i], addrs[i], 8);
dldelete(lib);
`;

test('no field on the bind path changes representation during the first 6,000 binds of a process', () => {
  const r = run(process.execPath, ['--trace-generalization', '--import', 'tsx', '--input-type=module', '-e', CHILD], { timeoutMs: 120_000 });
  assert.is(r.status, 0, r.stderr);
  // The trace is on and names the bind path: its fields go from const to mutable at the first binds.
  const onPath = r.stdout.split('\n').filter((l) => l.startsWith('[generalizing]') && BIND_PATH.test(l));
  assert.ok(onPath.length >= 10, `V8's --trace-generalization reports the bind path's fields (${onPath.length} lines)`);
  // Constructors set a library's fields once (the zygote's, then the caller's library's); from the first bind on, nothing may change.
  const changes = onPath.filter((l) => REPRESENTATION_CHANGE.test(l) && !l.includes('[new ~'));
  assert.equal(changes, [], 'a field on the bind path changed representation');
});

test.run();
