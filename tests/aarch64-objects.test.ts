// aarch64 shared objects written offline, used for real: a C program built by
// aarch64-linux-gnu-gcc dlopens one and another links against it, both run under qemu-user
// with Debian's arm64 glibc, and call the code and read the data. And the file is no larger
// than GNU ld's for the same content (64 KiB pages are not padded into the file).
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildFromPlan, planSharedObject, type SharedObjectSpec } from '../src/elf/index.js';
import { a64, add, movz, ret } from './helpers/arm64.js';
import { linkWithGnuLd } from './helpers/gnu-ld.js';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-a64-');
const PREFIX = 'aarch64-linux-gnu-';
const QEMU = 'qemu-aarch64-static';
const le32 = (n: number) => Array.from(new Uint8Array(Int32Array.of(n).buffer));

function needs(what: string): boolean {
  const missing = [`${PREFIX}gcc`, `${PREFIX}as`, `${PREFIX}ld`, QEMU].filter((t) => !have(t));
  if (missing.length > 0) skipBecause(what, `${missing.join(', ')} not installed (Debian: gcc-aarch64-linux-gnu, qemu-user-static)`);
  return missing.length === 0;
}

const SPEC: SharedObjectSpec = {
  machine: 'aarch64',
  soname: 'libarm.so',
  symbols: [
    { name: 'answer', section: 'text', bytes: a64(movz(0, 42), ret()) },
    { name: 'add', section: 'text', bytes: a64(add(0, 0, 1), ret()) },
    { name: 'table', section: 'rodata', bytes: [10, 20, 30, 40].flatMap(le32), align: 4 },
    { name: 'value', section: 'data', bytes: le32(4242), align: 4 },
    { name: 'value_ptr', section: 'data', size: 8 },
    { name: 'counter', section: 'bss', size: 8 },
  ],
  pointers: [{ symbol: 'value_ptr', target: 'value' }],
};

const CHECKS = `
  if (answer() != 42) return fail("answer");
  if (add(40, 2) != 42) return fail("add");
  if (table[3] != 40) return fail("table");
  if (value != 4242) return fail("value");
  if (value_ptr != &value || *value_ptr != 4242) return fail("value_ptr");
  if (counter != 0) return fail("counter");
  counter = 7;
  if (counter != 7) return fail("counter store");
`;

const DLOPEN_C = String.raw`#include <dlfcn.h>
#include <stdio.h>
static int fail(const char *what) { printf("FAIL %s\n", what); return 1; }
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  int (*answer)(void) = (int (*)(void))dlsym(h, "answer");
  int (*add)(int, int) = (int (*)(int, int))dlsym(h, "add");
  const int *table = dlsym(h, "table");
  int *valuep = dlsym(h, "value");
  int **value_ptrp = dlsym(h, "value_ptr");
  long *counterp = dlsym(h, "counter");
  if (!answer || !add || !table || !valuep || !value_ptrp || !counterp) return fail("dlsym");
  #define value (*valuep)
  #define value_ptr (*value_ptrp)
  #define counter (*counterp)
  ${CHECKS}
  printf("ok\n");
  return 0;
}`;

const LINKED_C = String.raw`#include <stdio.h>
extern int answer(void);
extern int add(int, int);
extern const int table[4];
extern int value;
extern int *value_ptr;
extern long counter;
static int fail(const char *what) { printf("FAIL %s\n", what); return 1; }
int main(void) {
  ${CHECKS}
  printf("ok\n");
  return 0;
}`;

/** Builds both C programs for arm64 against `lib<name>.so` in `libDir`, runs them under qemu, returns what each printed. */
function runBoth(libDir: string, name: string): string[] {
  const so = join(libDir, `lib${name}.so`);
  writeFileSync(join(libDir, 'dlopen.c'), DLOPEN_C);
  writeFileSync(join(libDir, 'linked.c'), LINKED_C);
  mustRun(`${PREFIX}gcc`, ['-O1', '-o', join(libDir, 'dlopen'), join(libDir, 'dlopen.c'), '-ldl']);
  mustRun(`${PREFIX}gcc`, ['-O1', '-fPIC', '-o', join(libDir, 'linked'), join(libDir, 'linked.c'), `-L${libDir}`, `-l${name}`]);
  const a = run(QEMU, ['-L', '/', join(libDir, 'dlopen'), so]);
  const b = run(QEMU, ['-L', '/', join(libDir, 'linked')], { env: { ...process.env, LD_LIBRARY_PATH: libDir } });
  return [a.stdout + a.stderr, b.stdout + b.stderr].map((x) => x.trim());
}

test('an aarch64 .so written offline: a C program built by aarch64-linux-gnu-gcc dlopens it, another links against it; under qemu both call and read it right', () => {
  if (!needs('aarch64 C programs')) return;
  const libDir = join(dir, 'offline');
  mkdirSync(libDir);
  writeFileSync(join(libDir, 'libarm.so'), buildFromPlan(planSharedObject(SPEC)).bytes);
  assert.equal(runBoth(libDir, 'arm'), ['ok', 'ok']);
});

test('the same check catches a broken library: the wrong answer is reported', () => {
  if (!needs('aarch64 C programs')) return;
  const libDir = join(dir, 'broken');
  mkdirSync(libDir);
  const broken = { ...SPEC, symbols: SPEC.symbols!.map((s) => (s.name === 'answer' ? { ...s, bytes: a64(movz(0, 41), ret()) } : s)) };
  writeFileSync(join(libDir, 'libarm.so'), buildFromPlan(planSharedObject(broken)).bytes);
  assert.equal(runBoth(libDir, 'arm'), ['FAIL answer', 'FAIL answer']);
});

test('offline aarch64 files are no larger than GNU ld -shared makes for the same content; without packed offsets they would be', () => {
  if (!needs('the size comparison with GNU ld')) return;
  const libDir = join(dir, 'sizes');
  mkdirSync(libDir);
  const ours = join(libDir, 'libours.so');
  const bytes = buildFromPlan(planSharedObject(SPEC)).bytes;
  writeFileSync(ours, bytes);
  const ld = linkWithGnuLd(ours, libDir, { prefix: PREFIX, sameAddresses: false, name: 'libld' });
  const padded = buildFromPlan({ ...planSharedObject(SPEC), packFileOffsets: false }).bytes.length;
  console.log(`  aarch64 offline: dlbind ${bytes.length} bytes, GNU ld ${ld.size}, dlbind with page-aligned offsets ${padded}`);
  assert.ok(bytes.length <= ld.size, `dlbind wrote ${bytes.length} bytes, GNU ld ${ld.size}`);
  assert.ok(padded > ld.size, 'page-aligned offsets would be larger than GNU ld: the comparison can fail');
  // GNU ld's file passes the same programs: what it was given is the same content.
  mkdirSync(join(libDir, 'ld'));
  copyFileSync(ld.path, join(libDir, 'ld', 'libarm.so'));
  assert.equal(runBoth(join(libDir, 'ld'), 'arm'), ['ok', 'ok']);
});

test.run();
