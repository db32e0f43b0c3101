// arch: aarch64
// A C++ object compiled by g++ -c -O2 -fPIC, loaded with loadObject: it throws and
// catches inside itself, and lets exceptions escape to a caller in another loaded
// object, which catches them by type (std::invalid_argument, and a class of its
// own whose typeinfo each object has a copy of). The same sources linked into an
// ordinary program print the same lines. Without the objects' unwind tables the
// first throw terminates the process, so the test cannot pass by accident.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arm } from './helpers/code.js';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-loadcxx-');

const COMMON = `#include <stdexcept>
struct TooBig : std::exception { int value; explicit TooBig(int v) : value(v) {} const char *what() const noexcept override { return "too big"; } };
`;
const THROWER = `${COMMON}
#include <string>
static int divide(int a, int b) { if (b == 0) throw std::runtime_error(std::string("division by ") + std::to_string(b)); return a / b; }
extern "C" int safe_div(int a, int b) {
  try { return divide(a, b); } catch (const std::runtime_error &e) { return -static_cast<int>(std::string(e.what()).size()); }
}
extern "C" __attribute__((noinline)) int must_check(int x) {
  if (x < 0) throw std::invalid_argument("negative");
  if (x > 100) throw TooBig(x);
  return x * 2;
}
`;
const CATCHER = `${COMMON}
extern "C" int must_check(int x);
extern "C" int check_through(int x) {
  try { return must_check(x); }
  catch (const std::invalid_argument &) { return -1; }
  catch (const TooBig &e) { return -e.value; }
}
`;
const MAIN = `#include <cstdio>
extern "C" int safe_div(int, int); extern "C" int check_through(int);
int main() {
  std::printf("safe_div(84, 2) = %d\\n", safe_div(84, 2));
  std::printf("check_through(5) = %d\\n", check_through(5));
  std::printf("safe_div(1, 0) = %d\\n", safe_div(1, 0));
  std::printf("check_through(-3) = %d\\n", check_through(-3));
  std::printf("check_through(1000) = %d\\n", check_through(1000));
}
`;

const cxx = arm ? 'aarch64-linux-gnu-g++' : 'g++';
/** A child Node under qemu on a loaded machine can take minutes. */
const CHILD_MS = 280_000;

test('g++ objects throw, catch and let exceptions escape to a caller as a normally linked program does', () => {
  if (!have(cxx)) return skipBecause('C++ objects', `${cxx} is not installed`);
  const objs: string[] = [];
  for (const [name, source] of [
    ['thrower', THROWER],
    ['catcher', CATCHER],
    ['main', MAIN],
  ] as const) {
    writeFileSync(join(dir, `${name}.cc`), source);
    mustRun(cxx, ['-c', '-O2', '-fPIC', '-o', join(dir, `${name}.o`), join(dir, `${name}.cc`)]);
    objs.push(join(dir, `${name}.o`));
  }
  const program = join(dir, 'linked');
  mustRun(cxx, ['-o', program, ...objs]);
  const native = run(program, []);
  assert.is(native.status, 0, native.stderr);
  assert.match(native.stdout, /check_through\(1000\) = -1000/);

  const loaded = run(process.execPath, ['--import', 'tsx', 'tests/fixtures/load-object-cxx.ts', objs[0]!, objs[1]!, 'unwind'], { timeoutMs: CHILD_MS });
  assert.is(loaded.status, 0, loaded.stderr);
  assert.is(loaded.stdout, native.stdout);

  // The failing case: the same objects without their unwind tables cannot even catch their own exception.
  const bare = run(process.execPath, ['--import', 'tsx', 'tests/fixtures/load-object-cxx.ts', objs[0]!, objs[1]!, 'no-unwind'], { timeoutMs: CHILD_MS });
  assert.is.not(bare.status, 0);
  assert.match(bare.stdout, /safe_div\(84, 2\) = 42\ncheck_through\(5\) = 10\n$/, `stdout:\n${bare.stdout}\nstderr:\n${bare.stderr}`);
  assert.match(bare.stderr, /terminate called/);
});

test.run();
