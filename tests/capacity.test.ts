// Capacities: large defaults that cost nothing idle, one option that scales them, every request
// checked against what can be mapped (a DlbindError that names the limit, never an abort), and
// limit-reached errors that name the limit, the use and the option.
import { fstatSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CAPACITY, DlbindError, SHF_EXECINSTR, SHF_WRITE, dlcreate, dlsym } from '../src/index.js';
import { runNode } from './fixtures/robust-children.js';

const CHILD = 'tests/fixtures/capacity-child.ts';

function error(fn: () => unknown): DlbindError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DlbindError);
    return err as DlbindError;
  }
  assert.unreachable('no error');
  throw new Error('unreachable');
}

test('the defaults hold a million symbols and 256 MiB of code, and an idle library holds at most 64 KiB of memfd pages', () => {
  assert.ok(DEFAULT_CAPACITY.maxSymbols >= 1_000_000);
  assert.ok(DEFAULT_CAPACITY.text >= 256 * 2 ** 20);
  const lib = dlcreate();
  try {
    const fd = Number(/\/fd\/(\d+)$/.exec(lib.path)![1]);
    const st = fstatSync(fd);
    assert.ok(st.size > 512 * 2 ** 20, `the memfd reserves ${st.size} bytes`);
    assert.ok(st.blocks * 512 <= 64 * 1024, `an idle library has ${st.blocks * 512} bytes of memfd pages`);
    const f = lib.addFunction('f', Uint8Array.of(0xc3));
    assert.is(dlsym(lib, 'f'), f);
    assert.ok(fstatSync(fd).blocks * 512 <= 128 * 1024, 'one function adds a few pages');
  } finally {
    lib.delete();
  }
});

test('scale multiplies every default; explicit fields win; bad values are EINVAL', () => {
  const lib = dlcreate(undefined, { scale: 1 / 64, maxSymbols: 5000 });
  try {
    const c = lib.stats().capacity;
    assert.is(c.text, DEFAULT_CAPACITY.text / 64);
    assert.is(c.data, DEFAULT_CAPACITY.data / 64);
    assert.is(c.stringTableSize, DEFAULT_CAPACITY.stringTableSize / 64);
    assert.is(c.maxSymbols, 5000);
  } finally {
    lib.delete();
  }
  for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '2']) {
    assert.is(error(() => dlcreate(undefined, { scale: scale as number })).code, 'EINVAL', String(scale));
  }
});

test('oversized requests (4 GiB, 1 TiB, 2^53 for each capacity, a total over the limit) are ETOOBIG naming the limit; the child catches each and exits 0', async () => {
  const r = await runNode([CHILD, 'oversized']);
  assert.is(r.signal, null, r.stderr);
  assert.is(r.status, 0, r.stderr);
  const outcomes = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
  assert.is(Object.keys(outcomes).length, 5 * 3 + 2);
  for (const [label, outcome] of Object.entries(outcomes)) {
    assert.match(outcome, /^ETOOBIG: /, label);
    assert.match(outcome, /4294967296 bytes/, `${label} names the limit`);
  }
  assert.match(outcomes['total-over-limit']!, /the object would span \d+ bytes/);
  assert.match(outcomes['maxSymbols=4GiB']!, /at most \d+ symbols fit/);
});

test('the failing case: a view above the limit, which the check keeps dlcreate from making, aborts Node instead of throwing', async () => {
  const r = await runNode([CHILD, 'raw-view']);
  assert.ok(r.signal === 'SIGABRT' || (r.status !== 0 && r.status !== null), `status ${r.status} signal ${r.signal}: ${r.stdout}`);
  assert.not.match(r.stdout, /caught|view made/);
});

test('limits reached name the limit, the use and the option that raises it', () => {
  const lib = dlcreate(undefined, { maxSymbols: 8, stringTableSize: 256, text: 4096 });
  try {
    const block = lib.alloc(8 * 16, SHF_WRITE);
    for (let i = 0; i < 8; i++) lib.bind(`s${i}`, block + BigInt(i * 8), 8);
    const sym = error(() => lib.bind('s8', block + 64n, 8));
    assert.is(sym.code, 'ESYMFULL');
    assert.match(sym.message, /8 of maxSymbols 8 bound/);
    assert.match(sym.message, /raise maxSymbols or scale/);
    lib.unbind('s0');
    const str = error(() => lib.bind('n'.repeat(300), block, 8));
    assert.is(str.code, 'ESTRFULL');
    assert.match(str.message, /of stringTableSize 256 are in use/);
    assert.match(str.message, /raise stringTableSize or scale/);
    lib.alloc(4000, SHF_EXECINSTR);
    const text = error(() => lib.alloc(200, SHF_EXECINSTR));
    assert.is(text.code, 'ENOSPACE');
    assert.match(text.message, /4000 of text capacity 4096 bytes in use/);
    assert.match(text.message, /raise text or scale/);
  } finally {
    lib.delete();
  }
});

test.run();
