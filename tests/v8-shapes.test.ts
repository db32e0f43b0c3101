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
/**
 * One report: `field:<kind>{...}-><kind>{...}`, where s is a small integer, d a double, h a heap
 * object, t any value and v none yet (a field's first value, which is no change).
 */
const REPORT = /^([^:\s]+):([sdhtv])\{[^{}]*\}->([sdht])\{[^{}]*\}/;
/** The changes that move a field to a wider representation (the others only loosen its constness or field type). */
const WIDENINGS = new Set(['s->d', 's->t', 'd->t', 'h->t']);

const CHILD = `
import { dlcreate, dlalloc, dlbind, dladdr, dldelete, dlsym, SHF_WRITE } from './src/index.ts';
const n = 6000;
const names = Array.from({ length: n }, (_, i) => 'jit_obj_' + i);
const lib = dlcreate(undefined, { maxSymbols: n });
const base = dlalloc(lib, 8 * n, SHF_WRITE);
const addrs = names.map((_, i) => base + BigInt(8 * i));
for (let i = 0; i < n; i++) dlbind(lib, names[i], addrs[i], 8);
dldelete(lib);
// A JIT's path: code added, found, unbound, freed and added again.
const jit = dlcreate();
const code = Uint8Array.of(0xb8, 42, 0, 0, 0, 0xc3);
const fns = [];
for (let i = 0; i < 3000; i++) fns.push(jit.addFunction('fn_' + i, code));
for (let i = 0; i < 3000; i++) if (dlsym(jit, 'fn_' + i) !== fns[i]) throw new Error('fn_' + i + ' not found');
for (let i = 0; i < 3000; i += 10) if (dladdr(fns[i]) === null) throw new Error('fn_' + i + ' not named');
for (let i = 0; i < 3000; i += 2) jit.unbind('fn_' + i);
for (let i = 1; i < 3000; i += 2) jit.free(fns[i]);
for (let i = 0; i < 3000; i++) jit.addFunction('again_' + i, code);
dldelete(jit);
`;

test("no field on the bind path changes representation during a process's first 6,000 binds, nor on the JIT path (3,000 functions added, found, unbound, freed and added again)", () => {
  // --no-sparkplug: Node 20's V8 aborts when it prints a report from a frame of baseline code (a failed
  // CHECK in AbstractCode::SourcePosition); the fields' values, and so their changes, are the same without that tier.
  const r = run(process.execPath, ['--trace-generalization', '--no-sparkplug', '--import', 'tsx', '--input-type=module', '-e', CHILD], {
    timeoutMs: 120_000,
  });
  assert.is(r.status, 0, r.stderr);
  // Split at each report, not at each line: V8's threads write their reports into one another's lines.
  const reports = r.stdout.split('[generalizing]').filter((l) => BIND_PATH.test(l));
  // The trace is on and names the bind path: its fields go from const to mutable at the first binds.
  assert.ok(reports.length >= 10, `V8's --trace-generalization reports the bind path's fields (${reports.length} reports)`);
  const changes = reports.filter((l) => {
    // Constructors set a library's fields once (the zygote's, then the caller's library's); from the first bind on, nothing may change.
    if (l.includes('[new ~')) return false;
    const m = REPORT.exec(l);
    return m !== null && m[2] !== 'v' && (WIDENINGS.has(`${m[2]}->${m[3]}`) || /\(\+\d+ maps\)/.test(l));
  });
  assert.equal(changes, [], 'a field on the bind path changed representation');
});

test.run();
