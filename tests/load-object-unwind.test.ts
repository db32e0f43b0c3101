// arch: aarch64
// A C object's unwind rules go into the live library's own .eh_frame (src/elf/object-unwind.ts):
// a C++ exception thrown by a callback crosses the loaded C function's frame to a catch in a
// loaded C++ object, and without the C object's rules it terminates.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arm } from './helpers/code.js';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-loadunwind-');
const cxx = arm ? 'aarch64-linux-gnu-g++' : 'g++';
/** A child Node under qemu on a loaded machine can take minutes. */
const CHILD_MS = 280_000;

test("a C object's unwind rules go into the live library's .eh_frame: an exception passes through its frames", () => {
  if (!have(cxx)) return skipBecause('C++ objects', `${cxx} is not installed`);
  const cc = arm ? 'aarch64-linux-gnu-gcc' : 'gcc';
  // Frames of its own (a call that is not a tail call), so the unwinder must know its rules.
  writeFileSync(join(dir, 'relay.c'), 'int relay(int (*cb)(int), int x) { int r = cb(x); return r + 1; }\n');
  writeFileSync(
    join(dir, 'outer.cc'),
    `#include <stdexcept>
extern "C" int relay(int (*cb)(int), int x);
static int cb(int x) { if (x < 0) throw std::out_of_range("below zero"); return x * 10; }
extern "C" int throw_through_c(int x) { try { return relay(cb, x); } catch (const std::out_of_range &) { return -100; } }
`,
  );
  mustRun(cc, ['-c', '-O2', '-fPIC', '-fno-optimize-sibling-calls', '-o', join(dir, 'relay.o'), join(dir, 'relay.c')]);
  mustRun(cxx, ['-c', '-O2', '-fPIC', '-o', join(dir, 'outer.o'), join(dir, 'outer.cc')]);
  const args = ['--import', 'tsx', 'tests/fixtures/load-object-through-c.ts', join(dir, 'relay.o'), join(dir, 'outer.o')];
  const withRules = run(process.execPath, [...args, 'unwind'], { timeoutMs: CHILD_MS });
  assert.is(withRules.status, 0, withRules.stderr);
  assert.is(withRules.stdout, 'live FDEs for the C object: 1\nthrow_through_c(7) = 71\nthrow_through_c(-7) = -100\n');
  // Without the C object's rules the exception cannot cross relay(): terminate.
  const without = run(process.execPath, [...args, 'no-unwind'], { timeoutMs: CHILD_MS });
  assert.is.not(without.status, 0);
  assert.match(without.stdout, /live FDEs for the C object: 0\nthrow_through_c\(7\) = 71\n$/);
  assert.match(without.stderr, /terminate called/);
});

test.run();
