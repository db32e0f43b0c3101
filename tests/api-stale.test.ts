// arch: aarch64
// Freed and deleted code never runs silently: functions made by dlfunc/lib.func throw
// EFREED or EDELETED, freed text traps when native code calls it, it is quarantined
// before reuse, replace frees what it replaced, and dlsave writes freed space as zeros.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, dlcreate, dlfunc, dlsym, readElf } from '../src/index.js';
import { TEXT_QUARANTINE_MS } from '../src/loader/block-states.js';
import { getLibc } from '../src/loader/libc.js';
import { ANSWER, IDENTITY, SEVEN, failsWith } from './helpers/api.js';
import { run, tempDir } from './helpers/tools.js';

const x64 = process.arch === 'x64';
const dir = tempDir('dlbind-api-stale-');
const TRAP = x64 ? [0xcc, 0xcc, 0xcc, 0xcc] : [0x60, 0x1b, 0x20, 0xd4];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeAt = (addr: bigint, n: number) => [...new Uint8Array(getLibc().view(addr, n))];

test('calling after delete throws EDELETED; making a function after delete too', () => {
  const lib = dlcreate();
  const addr = lib.addFunction('answer', ANSWER);
  const f = lib.func<() => number>(addr, 'int answer(void)');
  const g = dlfunc<() => number>(dlsym(lib, 'answer')!, 'int answer(void)');
  assert.is(f(), 42);
  assert.is(g(), 42);
  lib.delete();
  failsWith(() => f(), 'EDELETED', /cannot call int answer\(void\) at 0x[0-9a-f]+: library libdlbind-\S+ was deleted/);
  failsWith(() => g(), 'EDELETED');
  failsWith(() => lib.func(addr, 'int answer(void)'), 'EDELETED');
});

test('calling after free throws EFREED; the freed text holds a trap; dlfunc on a freed address is EFREED', () => {
  const lib = dlcreate();
  try {
    const addr = lib.addFunction('answer', ANSWER);
    const other = lib.addFunction('other', SEVEN);
    const f = lib.func<() => number>(addr, 'int answer(void)');
    const g = dlfunc<() => number>(addr, 'int answer(void)');
    const h = lib.func<() => number>(other, 'int other(void)');
    lib.free(addr);
    failsWith(() => f(), 'EFREED', /its block in library \S+ was freed/);
    failsWith(() => g(), 'EFREED');
    assert.is(h(), 7, 'a function of another block still runs');
    assert.equal(codeAt(addr, 4), TRAP, 'freed text is trap-filled');
    failsWith(() => dlfunc(addr, 'int answer(void)'), 'EFREED');
    failsWith(() => lib.func(addr + 4n, 'int answer(void)'), 'EFREED');
    // Functions outside any library are not guarded and still work.
    const getpid = dlfunc<() => number>(dlsym(null, 'getpid')!, 'int getpid(void)');
    assert.is(getpid(), process.pid);
  } finally {
    lib.delete();
  }
});

test('every shape of call checks the guard: 0 to 6 parameters and variadic; a wrong argument count is EINVAL', () => {
  const lib = dlcreate();
  // The identity on the first argument, called through prototypes of every arity the wrapper has a path for.
  const id = lib.addFunction('id', IDENTITY);
  const params = ['', 'int64_t a', 'int64_t a, int b', 'int64_t a, int b, int c', 'int64_t a, int b, int c, int d', 'int64_t a, int b, int c, int d, int e'];
  params.push(`${params[5]}, int f`);
  const fns = params.map((p, n) => ({ n, f: lib.func<(...args: unknown[]) => unknown>(id, `int64_t id(${p === '' ? 'void' : p})`) }));
  const variadic = lib.func<(...args: unknown[]) => bigint>(id, 'int64_t id(int64_t a, ...)');
  const args = (n: number) => [7n, 1, 2, 3, 4, 5, 6, 7].slice(0, n);
  for (const { n, f } of fns) {
    if (n > 0) assert.is(f(...args(n)), 7n, `${n} parameters`);
    else f();
    failsWith(() => f(...args(n + 1)), 'EINVAL', new RegExp(`takes ${n} arguments?, got ${n + 1}`));
    if (n > 0) failsWith(() => f(...args(n - 1)), 'EINVAL', new RegExp(`^EINVAL: int64_t id\\(.*\\) takes ${n} arguments?, got ${n - 1}$`));
  }
  assert.is(variadic(7n, 'int', 1, 'double', 2.5), 7n, 'variadic: any count after the fixed ones');
  lib.free(id);
  for (const { n, f } of fns) failsWith(() => f(...args(n)), 'EFREED', undefined);
  failsWith(() => variadic(7n), 'EFREED');
  const lib2 = dlcreate();
  const id2 = lib2.addFunction('id', IDENTITY);
  const live = params.map((p) => lib2.func<(...args: unknown[]) => unknown>(id2, `int64_t id(${p === '' ? 'void' : p})`));
  lib2.delete();
  live.forEach((f, n) => failsWith(() => f(...args(n)), 'EDELETED'));
  lib.delete();
});

for (const mode of ['free', 'replace']) {
  test(`freed code called from native code traps (SIGTRAP), in a child (${mode})`, () => {
    const r = run(process.execPath, ['--import', 'tsx', 'tests/fixtures/api-stale-child.ts', mode]);
    assert.match(r.stdout, /^before 42\nnext elsewhere\n/, r.stdout + r.stderr);
    assert.not.match(r.stdout, /after/, 'the stale call returned instead of trapping');
    assert.is(r.signal, 'SIGTRAP', `${r.signal} ${r.status} ${r.stderr}`);
  });
}

test('a freed text block is quarantined before reuse (textQuarantined), then reused', async () => {
  const lib = dlcreate();
  try {
    const before = lib.stats().textInUse;
    const a = lib.alloc(64, SHF_EXECINSTR);
    lib.free(a);
    assert.is(lib.stats().textInUse, before);
    assert.is(lib.stats().textQuarantined, 64, 'in quarantine');
    const b = lib.alloc(64, SHF_EXECINSTR);
    assert.is.not(b, a, 'not reused at once');
    lib.free(b);
    await sleep(TEXT_QUARANTINE_MS + 20);
    assert.is(lib.stats().textQuarantined, 0, 'released after the quarantine');
    assert.is(lib.alloc(64, SHF_EXECINSTR), a, 'and then reused');
  } finally {
    lib.delete();
  }
});

test('with no other room, an alloc releases the quarantine early', () => {
  const lib = dlcreate(undefined, { text: 4096 });
  try {
    // The whole text arena (4096 rounds up to the page size: 64 KiB on aarch64).
    const size = lib.stats().capacity.text;
    const a = lib.alloc(size, SHF_EXECINSTR);
    lib.free(a);
    assert.is(lib.stats().textQuarantined, size);
    assert.is(lib.alloc(size, SHF_EXECINSTR), a);
  } finally {
    lib.delete();
  }
});

test('replace frees the replaced block: EFREED for its functions, textInUse back at once, the quarantine over later', async () => {
  const lib = dlcreate();
  try {
    const base = lib.stats().textInUse;
    const first = lib.addFunction('f', ANSWER);
    const one = lib.stats().textInUse;
    const old = lib.func<() => number>(first, 'int f(void)');
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) lib.addFunction('f', i % 2 === 0 ? SEVEN : ANSWER, { replace: true });
    const quick = performance.now() - t0 < TEXT_QUARANTINE_MS;
    assert.is(lib.stats().textInUse, one, 'the replaced blocks are no longer in use');
    // All five wait in the quarantine, unless the replaces themselves outlasted it (qemu, a loaded machine).
    const waiting = lib.stats().textQuarantined;
    if (quick) assert.is(waiting, 5 * 16, 'they wait in the quarantine');
    else assert.ok(waiting <= 5 * 16 && waiting % 16 === 0, `${waiting} bytes in quarantine`);
    failsWith(() => old(), 'EFREED');
    // Trap-filled while it waits (after the quarantine a later replace may have reused it).
    if (quick) assert.equal(codeAt(first, 4), TRAP);
    assert.is(lib.func<() => number>(dlsym(lib, 'f')!, 'int f(void)')(), 7);
    await sleep(TEXT_QUARANTINE_MS + 20);
    assert.is(lib.stats().textInUse, one, 'one block in use');
    assert.is(lib.stats().textQuarantined, 0, 'and none waiting');
    lib.unbind('f');
    // A block the caller allocated and bound by hand stays the caller's: replace does not free it.
    const mine = lib.alloc(16, SHF_EXECINSTR);
    lib.write(mine, ANSWER);
    lib.bind('g', mine, ANSWER.length);
    lib.addFunction('g', SEVEN, { replace: true });
    assert.is(lib.func<() => number>(mine, 'int g(void)')(), 42);
    // And a block that still holds another symbol is kept.
    const shared = lib.addFunction('h', ANSWER);
    lib.bind('h2', shared, ANSWER.length);
    lib.addFunction('h', SEVEN, { replace: true });
    assert.is(lib.func<() => number>(dlsym(lib, 'h2')!, 'int h2(void)')(), 42);
    assert.ok(base < one);
  } finally {
    lib.delete();
  }
});

test('dlsave writes freed space as zeros', () => {
  const lib = dlcreate();
  try {
    const dead = lib.addFunction('dead', ANSWER);
    lib.addFunction('alive', SEVEN);
    const deadData = lib.addData('deadData', [0xaa, 0xaa, 0xaa, 0xaa]);
    lib.addData('aliveData', [0xbb]);
    lib.free(dead);
    lib.free(deadData);
    const path = join(dir, 'libsaved.so');
    lib.save(path);
    const bytes = readFileSync(path);
    const so = readElf(bytes);
    const at = (addr: bigint) => {
      const v = addr - lib.loadBase;
      const sec = so.sections.find((s) => s.name !== '' && s.sh_addr <= v && v < s.sh_addr + s.sh_size)!;
      return Number(sec.sh_offset + (v - sec.sh_addr));
    };
    assert.equal([...bytes.subarray(at(dead), at(dead) + 16)], new Array(16).fill(0), 'freed text is zeros, not the trap or the old code');
    assert.equal([...bytes.subarray(at(deadData), at(deadData) + 4)], [0, 0, 0, 0]);
    assert.ok(so.lookup('alive') !== undefined && so.lookup('dead') === undefined);
  } finally {
    lib.delete();
  }
});

test.run();
