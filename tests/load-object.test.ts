// arch: aarch64
// lib.loadObject links a .o compiled by gcc or clang into a live library: its
// functions answer through libc's dlsym and through JIT code calling them via
// a slot; printf (resolved from libc) prints; gdb names a static function; an
// object with an undefined symbol is refused whole and changes nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DlbindError, SHF_EXECINSTR, dlcreate, dlfunc, dlload, dlsym, readElf } from '../src/index.js';
import { arm } from './helpers/code.js';
import { have, mustRun, run, skipBecause, targetCC, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

const dir = tempDir('dlbind-loadobj-');

export const HELPERS_C = `
#include <stdio.h>
int calls;                               /* global data (bss) */
static int bias = 100;                   /* static data */
int primes[6] = {2, 3, 5, 7, 11, 13};    /* global initialised data */
static const char *const words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven"};
static __attribute__((noinline)) int secret_helper(int x) { return x * 7 + bias; }
__attribute__((noinline)) int triple(int x) { calls++; return x * 3; }
int combine(int x) { return triple(x) + secret_helper(x); }
int word_length(int k) { int n = 0; const char *w = words[k & 7]; while (w[n]) n++; return n; }
int classify(int k) {
  switch (k) {                            /* dense: a jump table */
  case 0: return 10; case 1: return triple(21); case 2: return 32; case 3: return primes[3];
  case 4: return 54; case 5: return secret_helper(5); case 6: return 76; case 7: return word_length(7);
  case 8: return 98; default: return -1;
  }
}
int greet(int n) { int r = printf("hello from a loaded object: %d %s\\n", n, words[n & 7]); fflush(0); return r; }
int get_calls(void) { return calls; }
`;

/** What each function should return, as a normally linked program computes it. */
function expected(): Record<string, number> {
  return {
    'combine(4)': 4 * 3 + 4 * 7 + 100,
    'classify(0)': 10,
    'classify(1)': 63,
    'classify(3)': 7,
    'classify(5)': 135,
    'classify(7)': 5,
    'classify(8)': 98,
    'classify(42)': -1,
    'word_length(3)': 5,
  };
}

function compile(name: string, cc: string, flags: string[], source = HELPERS_C): string {
  const src = join(dir, `${name}.c`);
  const obj = join(dir, `${name}.o`);
  writeFileSync(src, source);
  mustRun(cc, ['-c', '-O2', ...flags, '-o', obj, src]);
  return obj;
}

const variants: { name: string; cc: string; flags: string[] }[] = [
  { name: 'gcc -fPIC', cc: targetCC(), flags: ['-fPIC'] },
  { name: 'gcc (no -fPIC: Debian default PIE)', cc: targetCC(), flags: [] },
  { name: 'clang -fPIC', cc: 'clang', flags: arm ? ['-fPIC', '--target=aarch64-linux-gnu'] : ['-fPIC'] },
];

test.after.each(() => assertNoWX('after the test'));

/** What a library holds: symbols and bytes in use, not the freed bytes waiting in the quarantine. */
const inUse = (s: ReturnType<ReturnType<typeof dlcreate>['stats']>) => ({ symbols: s.symbols, text: s.textInUse, rodata: s.rodataInUse, data: s.dataInUse });

/** JIT code that jumps through the 8-byte slot at `slot` (tail call): x86_64 jmp [rip+d]; aarch64 adrp/ldr/br x16. */
function jumpThrough(code: bigint, slot: bigint): Uint8Array {
  if (!arm) {
    const out = new Uint8Array(8);
    out.set([0xff, 0x25]);
    new DataView(out.buffer).setInt32(2, Number(slot - (code + 6n)), true);
    out.set([0xcc, 0xcc], 6);
    return out;
  }
  const pages = Number(((slot & ~0xfffn) - (code & ~0xfffn)) >> 12n);
  const adrp = (0x90000000 | ((pages & 3) << 29) | (((pages >> 2) & 0x7ffff) << 5) | 16) >>> 0;
  const ldr = (0xf9400000 | (Number((slot & 0xfffn) >> 3n) << 10) | (16 << 5) | 16) >>> 0;
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint32(0, adrp, true);
  v.setUint32(4, ldr, true);
  v.setUint32(8, 0xd61f0200, true);
  return out;
}

for (const variant of variants) {
  test(`${variant.name}: functions give the right results through dlsym and through JIT code calling them via slots`, () => {
    if (!have(variant.cc)) return skipBecause(variant.name, `${variant.cc} is not installed`);
    const obj = compile(variant.name.replace(/\W+/g, '_'), variant.cc, variant.flags);
    const lib = dlcreate();
    try {
      const handle = lib.loadObject(readFileSync(obj));
      for (const name of ['triple', 'combine', 'classify', 'word_length', 'greet', 'get_calls', 'calls', 'primes']) {
        assert.is(dlsym(lib, name), handle.symbols.get(name) ?? null, name);
        assert.ok(dlsym(lib, name) !== null, `${name} is found by dlsym`);
      }
      // Local symbols are not exported.
      assert.is(dlsym(lib, 'secret_helper'), null);
      assert.is(dlsym(lib, 'bias'), null);
      assert.ok(!handle.imports.has('secret_helper'));
      assert.ok(handle.imports.get('printf')! > 0n, 'printf resolved from libc');
      const call = (f: string, arg: number) => dlfunc(dlsym(lib, f)!, `int ${f}(int)`)(arg) as number;
      for (const [expr, want] of Object.entries(expected())) {
        const [, f, a] = /^(\w+)\((\d+)\)$/.exec(expr)!;
        assert.is(call(f!, Number(a)), want, expr);
      }
      // Global data is the object's: triple() counted its calls in `calls`.
      const calls = dlfunc(dlsym(lib, 'get_calls')!, 'int get_calls(void)')() as number;
      assert.is(calls, 2);
      assert.is(new DataView(lib.liveObject.mem.buffer, lib.liveObject.mem.byteOffset).getInt32(Number(dlsym(lib, 'calls')! - lib.loadBase), true), 2);
      // JIT code in the same library calls the object's functions through slots holding their addresses.
      for (const [f, arg, want] of [
        ['classify', 5, 135],
        ['combine', 4, 140],
      ] as const) {
        // The library's import slot for its own symbol (it follows replace and unbind).
        const slotAddr = lib.import(f);
        assert.is(new DataView(lib.liveObject.mem.buffer, lib.liveObject.mem.byteOffset).getBigUint64(Number(slotAddr - lib.loadBase), true), dlsym(lib, f));
        const code = lib.alloc(16, SHF_EXECINSTR);
        lib.write(code, jumpThrough(code, slotAddr));
        lib.bind(`jit_calls_${f}`, code, 12);
        assert.is(dlfunc(dlsym(lib, `jit_calls_${f}`)!, 'int jit(int)')(arg), want, `jit_calls_${f}(${arg})`);
      }
    } finally {
      lib.delete();
    }
  });
}

test("printf's output appears, and gdb names the object's static function", () => {
  const obj = compile('child', targetCC(), ['-fPIC']);
  const r = run(process.execPath, ['--import', 'tsx', 'tests/fixtures/load-object-target.ts', obj], { timeoutMs: 280_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /hello from a loaded object: 7 seven\n/);
  assert.match(r.stdout, `greet returned ${'hello from a loaded object: 7 seven\n'.length}`);
  if (!have('gdb') || arm) return skipBecause('gdb names the static function', arm ? 'gdb runs x86_64 processes only here' : 'gdb is not installed');
  const symbol = readElf(readFileSync(obj)).symbols.find((s) => s.name === 'secret_helper')!;
  assert.ok(symbol, 'the object has a static secret_helper');
  const text = readElf(readFileSync(obj)).sections[symbol.st_shndx]!;
  assert.is(text.name, '.text');
  const script = join(dir, 'gdb.script');
  writeFileSync(
    script,
    ['set pagination off', 'set confirm off', 'handle SIGUSR2 stop print nopass', 'run', `source ${join(dir, 'step.gdb')}`, 'kill', ''].join('\n'),
  );
  // .text is the first text section the plan places, at the start of the text block.
  const g = run(
    'gdb',
    ['-nx', '-batch', '-x', script, '--args', process.execPath, '--import', 'tsx', 'tests/fixtures/load-object-target.ts', obj, String(symbol.st_value)],
    {
      env: { ...process.env, DLBIND_GDB_DIR: dir },
      timeoutMs: 240_000,
    },
  );
  const out = `${g.stdout}\n${g.stderr}`;
  const answer = /@@static\n([^\n]*)/.exec(out)?.[1] ?? out;
  assert.match(answer, /^secret_helper in section \.text of \/proc\/\d+\/fd\/\d+/);
});

test('dlsave after loading: a C program dlopen()s the saved file and calls the loaded functions', () => {
  const obj = readFileSync(compile('saved', targetCC(), ['-fPIC']));
  const lib = dlcreate();
  const saved = join(dir, 'libsaved-object.so');
  try {
    lib.loadObject(obj);
    lib.save(saved);
  } finally {
    lib.delete();
  }
  const program = join(dir, 'use-saved');
  writeFileSync(
    join(dir, 'use-saved.c'),
    `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  int (*combine)(int) = dlsym(h, "combine"), (*classify)(int) = dlsym(h, "classify");
  int (*word_length)(int) = dlsym(h, "word_length"), (*greet)(int) = dlsym(h, "greet");
  int (*get_calls)(void) = dlsym(h, "get_calls");
  if (!combine || !classify || !word_length || !greet || !get_calls) { printf("missing symbol\\n"); return 1; }
  printf("combine(4) = %d\\n", combine(4));
  for (int k = 0; k < 9; k++) printf("classify(%d) = %d\\n", k, classify(k));
  printf("word_length(3) = %d\\n", word_length(3));
  printf("greet = %d\\n", greet(2));
  printf("calls = %d\\n", get_calls());
  return 0;
}
`,
  );
  mustRun(targetCC(), ['-O1', '-o', program, join(dir, 'use-saved.c'), '-ldl']);
  const r = run(program, [saved]);
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const want = expected();
  assert.match(r.stdout, `combine(4) = ${want['combine(4)']}\n`);
  for (const k of [0, 1, 3, 5, 7, 8]) assert.match(r.stdout, `classify(${k}) = ${want[`classify(${k})`]}\n`);
  assert.match(r.stdout, 'word_length(3) = 5\n');
  assert.match(r.stdout, `hello from a loaded object: 2 two\ngreet = ${'hello from a loaded object: 2 two\n'.length}\n`);
  // Two calls to triple (combine(4), classify(1)); the saved data started at 0 because the live one had not been touched.
  assert.match(r.stdout, 'calls = 2\n');
});

test('an undefined symbol: one DlbindError naming every unresolved one, and the library is unchanged', () => {
  const source = 'int missing_fn(int); int also_missing(void); int uses(int x) { return missing_fn(x) + also_missing(); }\nint fine(void) { return 1; }\n';
  const obj = readFileSync(compile('missing', targetCC(), ['-fPIC'], source));
  const lib = dlcreate();
  try {
    lib.addFunction('existing', Uint8Array.of(0xc3));
    const before = { stats: lib.stats(), symbols: lib.symbols() };
    try {
      dlload(lib, obj);
      assert.unreachable('an object with undefined symbols loaded');
    } catch (err) {
      assert.instance(err, DlbindError);
      assert.is((err as DlbindError).code, 'EUNDEF');
      assert.match((err as Error).message, /2 undefined symbols: missing_fn, also_missing/);
    }
    assert.equal(lib.stats(), before.stats);
    assert.equal(lib.symbols(), before.symbols);
    assert.is(dlsym(lib, 'fine'), null);
    // Resolving them through options.resolve loads it.
    const h = dlload(lib, obj, { resolve: { missing_fn: dlsym(lib, 'existing')!, also_missing: dlsym(lib, 'existing')! } });
    assert.ok(dlsym(lib, 'fine') !== null);
    assert.is(h.imports.get('missing_fn'), dlsym(lib, 'existing'));
  } finally {
    lib.delete();
  }
});

test('unloadObject runs .fini_array, unbinds every symbol and frees the blocks; .init_array ran at load', () => {
  const source = `extern int sink; static int ready;
__attribute__((constructor)) static void setup(void) { ready = 42; }
__attribute__((destructor)) static void teardown(void) { sink = 99; }
static int local_fn(int x) { return x + ready; }
int is_ready(int x) { return local_fn(x); }
`;
  const obj = readFileSync(compile('ctor', targetCC(), ['-fPIC'], source));
  const lib = dlcreate();
  try {
    const sink = lib.addData('sink', new Uint8Array(4), { writable: true });
    const before = lib.stats();
    const h = lib.loadObject(obj);
    assert.is(dlfunc(dlsym(lib, 'is_ready')!, 'int f(int)')(1), 43);
    const view = () => new DataView(lib.liveObject.mem.buffer, lib.liveObject.mem.byteOffset).getInt32(Number(sink - lib.loadBase), true);
    assert.is(view(), 0);
    lib.unloadObject(h);
    assert.is(view(), 99, 'the destructor ran');
    assert.is(dlsym(lib, 'is_ready'), null);
    // Names and freed text wait in their quarantines, so the string space and textQuarantined are not back yet; the import
    // slot for `sink` stays (slots are the library's, shared by name). A second load and unload adds nothing.
    const baseline = { ...lib.stats(), stringBytesLeft: 0, textQuarantined: 0 };
    assert.equal({ ...baseline, dataInUse: before.dataInUse }, { ...before, stringBytesLeft: 0 });
    lib.unloadObject(lib.loadObject(obj));
    assert.equal({ ...lib.stats(), stringBytesLeft: 0, textQuarantined: 0 }, baseline);
    assert.throws(
      () => lib.unloadObject(h),
      (e: Error) => e instanceof DlbindError && e.code === 'EINVAL',
    );
    // The names are free again.
    lib.loadObject(obj);
    assert.is(dlfunc(dlsym(lib, 'is_ready')!, 'int f(int)')(2), 44);
  } finally {
    lib.delete();
  }
});

test('refusals are typed and change nothing: TLS, a clash with a bound name, another machine, not an object', () => {
  const lib = dlcreate();
  try {
    const tls = readFileSync(compile('tls', targetCC(), ['-fPIC'], '__thread int t; int get(void) { return t; }\n'));
    const before = lib.stats();
    assert.throws(
      () => lib.loadObject(tls),
      (e: Error) => e instanceof DlbindError && e.code === 'EOBJECT' && /thread-local storage is not supported/.test(e.message),
    );
    const one = readFileSync(compile('one', targetCC(), ['-fPIC'], 'int one(void) { return 1; }\n'));
    lib.loadObject(one);
    const after = lib.stats();
    assert.throws(
      () => lib.loadObject(one),
      (e: Error) => e instanceof DlbindError && e.code === 'EEXIST' && /already bound: one/.test(e.message),
    );
    assert.equal(lib.stats(), after);
    assert.ok(before.symbols < after.symbols);
    assert.throws(
      () => lib.loadObject(Uint8Array.of(1, 2, 3)),
      (e: Error) => e instanceof DlbindError && e.code === 'EOBJECT',
    );
    if (!arm) {
      // Found only once the blocks are placed (above 4 GiB): the blocks are given back.
      const noPic = readFileSync(compile('nopic', targetCC(), ['-fno-pic'], 'int v; int *addr(void) { return &v; }\n'));
      assert.throws(
        () => lib.loadObject(noPic),
        (e: Error) => e instanceof DlbindError && e.code === 'EOBJECT' && /R_X86_64_32S? at \.text\+0x[0-9a-f]+ against 'v'.*-fPIC/.test(e.message),
      );
      // What it took is back (the freed, never-run blocks wait in the quarantine).
      assert.equal(inUse(lib.stats()), inUse(after));
      assert.is(dlsym(lib, 'addr'), null);
    }
    const other = arm ? 'gcc' : 'aarch64-linux-gnu-gcc';
    if (have(other)) {
      const foreign = join(dir, 'foreign.o');
      writeFileSync(join(dir, 'foreign.c'), 'int f(void) { return 1; }\n');
      mustRun(other, ['-c', '-o', foreign, join(dir, 'foreign.c')]);
      assert.throws(
        () => lib.loadObject(readFileSync(foreign)),
        (e: Error) => e instanceof DlbindError && e.code === 'EOBJECT' && /the object is for/.test(e.message),
      );
    }
    assert.equal(inUse(lib.stats()), inUse(after));
  } finally {
    lib.delete();
  }
});

test.run();
