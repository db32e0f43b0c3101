// arch: aarch64
// Live data persists in the backing file, and dlsave writes a standalone .so
// that C programs load and link against.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_WRITE, dlcreate, dlreloc, dlsave, readElf } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { compileC, have, mustRun, run, skipBecause, targetCC, tempDir } from './helpers/tools.js';
import { ADD, ANSWER, PAGE, arm, rets } from './helpers/code.js';
import { linkWithGnuLd } from './helpers/gnu-ld.js';
import { assertNoWX } from './helpers/wx.js';

const dir = tempDir('dlbind-save-');
const i32 = (n: number) => Uint8Array.from(new Uint8Array(Int32Array.of(n).buffer));

/** Stores a value through the loaded address itself, as JIT code or the program would (not dlwrite). */
function storeThroughLoadedAddress(addr: bigint, value: number): void {
  new DataView(getLibc().view(addr, 4)).setInt32(0, value, true);
}

test.after.each(() => assertNoWX('after the test'));

test('a value stored through the loaded address of a data symbol lands in the backing memfd and in dlsave output', () => {
  const lib = dlcreate('libpersist.so');
  try {
    const counter = lib.addData('counter', i32(1), { writable: true });
    storeThroughLoadedAddress(counter, 0x5eed1234);
    // The memfd, read back through the file system, not through any mapping of ours.
    const file = readFileSync(lib.path);
    const at = Number(counter - lib.loadBase);
    assert.is(file.readInt32LE(at), 0x5eed1234);
    const out = join(dir, 'libpersist-saved.so');
    dlsave(lib, out);
    const saved = readElf(readFileSync(out));
    const sym = saved.dynamicSymbols.find((s) => s.name === 'counter')!;
    assert.ok(sym);
    const seg = saved.segments.find((p) => p.p_type === 1 && p.p_vaddr <= sym.st_value && sym.st_value < p.p_vaddr + p.p_filesz)!;
    const fileOffset = Number(sym.st_value - seg.p_vaddr + seg.p_offset);
    assert.is(readFileSync(out).readInt32LE(fileOffset), 0x5eed1234);
    // Same address relative to the load base as in the live library.
    assert.is(sym.st_value, counter - lib.loadBase);
  } finally {
    lib.delete();
  }
});

test('a file-backed library keeps stores made through loaded addresses in its file', () => {
  const lib = dlcreate('libpersistfile.so', { backing: { directory: dir } });
  try {
    const v = lib.addData('value', i32(0), { writable: true });
    storeThroughLoadedAddress(v, 777);
    assert.is(readFileSync(lib.path).readInt32LE(Number(v - lib.loadBase)), 777);
  } finally {
    lib.delete();
  }
});

function buildSavedLibrary(path: string): void {
  const lib = dlcreate('libjitsaved.so');
  try {
    lib.addFunction('answer', ANSWER);
    lib.addFunction('add', ADD);
    const value = lib.addData('value', i32(12345), { writable: true });
    storeThroughLoadedAddress(value, 4242);
    lib.addData('table', Uint8Array.of(10, 20, 30, 40));
    // A self-pointer: data holding the address of `value`, marked for relocation.
    const ptr = lib.alloc(8, SHF_WRITE);
    const word = new Uint8Array(8);
    new DataView(word.buffer).setBigUint64(0, value, true);
    lib.write(ptr, word);
    lib.bind('value_ptr', ptr, 8);
    dlreloc(lib, ptr);
    // A freed block and an unbound symbol do not make it into the file.
    const scratch = lib.addFunction('scratch', ANSWER);
    lib.free(scratch);
    lib.addFunction('unbound_later', ANSWER);
    lib.unbind('unbound_later');
    dlsave(lib, path);
  } finally {
    lib.delete();
  }
}

const CHECKS = `
  if (answer() != 42) return fail("answer");
  if (add(40, 2) != 42) return fail("add");
  if (value != 4242) return fail("value");
  if (table[3] != 40) return fail("table");
  if (value_ptr != &value || *value_ptr != 4242) return fail("value_ptr");
`;

test('a C program dlopens a saved library: calls, reads data, follows a dlreloc self-pointer', () => {
  if (!have(targetCC())) return skipBecause('C programs', `${targetCC()} is not installed`);
  const so = join(dir, 'libjitsaved.so');
  buildSavedLibrary(so);
  const exe = compileC(
    dir,
    'dlopen-saved',
    `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
static int fail(const char *what) { printf("FAIL %s\\n", what); return 1; }
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  int (*answer)(void) = (int (*)(void))dlsym(h, "answer");
  int (*add)(int, int) = (int (*)(int, int))dlsym(h, "add");
  int *valuep = dlsym(h, "value");
  unsigned char *table = dlsym(h, "table");
  int **value_ptrp = dlsym(h, "value_ptr");
  if (!answer || !add || !valuep || !table || !value_ptrp) return fail("dlsym");
  if (dlsym(h, "scratch") || dlsym(h, "unbound_later")) return fail("freed or unbound symbol present");
  #define value (*valuep)
  #define value_ptr (*value_ptrp)
  ${CHECKS}
  Dl_info info;
  if (!dladdr((char *)add + 1, &info) || !info.dli_sname || strcmp(info.dli_sname, "add")) return fail("dladdr");
  printf("ok\\n");
  return 0;
}`.replace('#include <stdio.h>', '#include <stdio.h>\n#include <string.h>'),
    ['-ldl'],
    join(dir, 'dlopen-saved'),
  );
  const r = run(exe, [so]);
  assert.is(r.stdout.trim(), 'ok', r.stdout + r.stderr);
});

test('a second C program links against the saved library with gcc -L. -l and runs', () => {
  if (!have(targetCC())) return skipBecause('C programs', `${targetCC()} is not installed`);
  const so = join(dir, 'libjitsaved.so');
  buildSavedLibrary(so);
  const exe = compileC(
    dir,
    'link-saved',
    `#include <stdio.h>
extern int answer(void);
extern int add(int, int);
extern int value;
extern const unsigned char table[4];
extern int *value_ptr;
static int fail(const char *what) { printf("FAIL %s\\n", what); return 1; }
int main(void) {
  ${CHECKS}
  printf("ok\\n");
  return 0;
}`,
    ['-fPIC', `-L${dir}`, '-ljitsaved'],
    join(dir, 'link-saved'),
  );
  const r = run(exe, [], { env: { ...process.env, LD_LIBRARY_PATH: dir } });
  assert.is(r.stdout.trim(), 'ok', r.stdout + r.stderr);
});

test('a saved library passes readelf with no warning and eu-elflint --gnu-ld, and is trimmed', () => {
  const so = join(dir, 'libjitsaved.so');
  buildSavedLibrary(so);
  const bytes = readFileSync(so);
  // Each content section keeps its live, page-aligned address, so its file offset is page-aligned
  // too: up to a page of padding before each (64 KiB on aarch64, as GNU ld would pad them).
  const bound = arm ? 4 * PAGE : 64 * 1024;
  assert.ok(bytes.length < bound, `saved file is ${bytes.length} bytes: unused capacity is not written`);
  const parsed = readElf(bytes);
  assert.ok(parsed.sysvHash && parsed.gnuHash, 'both hash tables');
  assert.is(parsed.soname, 'libjitsaved.so');
  assert.equal(
    parsed.dynamicSymbols
      .slice(1)
      .map((s) => s.name)
      .sort(),
    ['add', 'answer', 'table', 'value', 'value_ptr'],
  );
  if (have('readelf')) {
    const r = mustRun('readelf', ['-W', '-a', so]);
    assert.is(r.stderr, '');
    assert.not.match(r.stdout, /warning|error/i);
  } else skipBecause('readelf check', 'readelf is not installed');
  if (have('eu-elflint')) {
    const r = run('eu-elflint', ['--gnu-ld', so]);
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, 'No errors');
  } else skipBecause('eu-elflint check', 'elfutils is not installed');
});

test('a saved library is no larger than GNU ld -shared makes of the same content at the same addresses', () => {
  const prefix = arm && targetCC() !== 'gcc' ? 'aarch64-linux-gnu-' : '';
  if (!have(`${prefix}as`) || !have(`${prefix}ld`)) return skipBecause('the size comparison with GNU ld', `${prefix}as or ${prefix}ld is not installed`);
  const so = join(dir, 'libjitsaved.so');
  buildSavedLibrary(so);
  const ours = readFileSync(so).length;
  const ld = linkWithGnuLd(so, dir, { prefix, sameAddresses: true, name: 'libjitsaved-ld' });
  console.log(`  dlsave on ${process.arch}: dlbind ${ours} bytes, GNU ld with the same section addresses ${ld.size}`);
  assert.ok(ours <= ld.size, `dlsave wrote ${ours} bytes, GNU ld ${ld.size}`);
  // GNU ld's file holds the same content: the same values, read at the same places.
  const theirs = readElf(readFileSync(ld.path));
  for (const name of ['answer', 'add', 'value', 'table', 'value_ptr'])
    assert.is(theirs.lookup(name)?.st_value, readElf(readFileSync(so)).lookup(name)?.st_value, name);
});

test('dlreloc refuses words outside writable data, and save refuses a marked word pointing outside the library', () => {
  const lib = dlcreate();
  try {
    const code = lib.addFunction('f', rets(16));
    assert.throws(() => dlreloc(lib, code), /EINVAL/);
    const ptr = lib.alloc(16, SHF_WRITE);
    assert.throws(() => dlreloc(lib, ptr + 4n), /EALIGN/);
    const word = new Uint8Array(8);
    new DataView(word.buffer).setBigUint64(0, 0x1234n, true);
    lib.write(ptr, word);
    dlreloc(lib, ptr);
    assert.throws(() => dlsave(lib, join(dir, 'bad.so')), /not inside the library/);
  } finally {
    lib.delete();
  }
});

test.run();
