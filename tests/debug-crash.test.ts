// not-aarch64: gdb cannot attach to or run a process under qemu-user here
// gdb attached from the start: a script binds a function and calls it in the
// same event-loop turn, with no flush(), and the function faults. gdb's
// backtrace names it, because while a debugger listens a change is announced
// before the next call through dlfunc and at the end of the synchronous run
// of JavaScript. With debug 'off' the same frame is `??`, which shows that the
// name comes from the announcement.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-gdb-crash-');

function unusable(): string | undefined {
  if (!have('gdb')) return 'gdb is not installed';
  if (process.arch !== 'x64') return 'the target JIT-compiles x86_64 code';
  return undefined;
}

/** Runs the crashing target under gdb and returns what `bt` printed at the fault. */
function backtraceAtFault(mode: 'auto' | 'off', call = 'dlfunc'): string {
  const script = join(dir, 'crash.gdb');
  writeFileSync(script, ['set pagination off', 'set confirm off', 'run', 'echo @@bt\\n', 'bt 3', 'echo @@end\\n', 'kill', ''].join('\n'));
  const r = run('gdb', ['-nx', '-batch', '-x', script, '--args', process.execPath, '--import', 'tsx', 'tests/fixtures/debug-crash-target.ts'], {
    env: { ...process.env, DLBIND_CRASH_DEBUG: mode, DLBIND_CRASH_CALL: call },
    timeoutMs: 180_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.match(out, /received signal SIGSEGV/, out);
  assert.not.match(out, 'not reached', out);
  const bt = /@@bt\n([\s\S]*?)@@end/.exec(out)?.[1];
  assert.ok(bt !== undefined, out);
  return bt!;
}

test('bind, call and fault in one turn: gdb names the function in frame #0', () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('gdb crash test', why);
  const bt = backtraceAtFault('auto');
  assert.match(bt, /^#0 +0x[0-9a-f]+ in jit_crash \(\) from \/proc\/\d+\/fd\/\d+/, bt);
});

test("the same with debug 'off': gdb read the library before the bind and names nothing", () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('gdb crash test', why);
  const bt = backtraceAtFault('off');
  assert.match(bt, /^#0 +0x[0-9a-f]+ in \?\? \(\) from \/proc\/\d+\/fd\/\d+/, bt);
  assert.not.match(bt, 'jit_crash', bt);
});

test('called as native code would call it, after the current synchronous JavaScript ends (a microtask): named', () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('gdb crash test', why);
  const bt = backtraceAtFault('auto', 'raw-after-microtask');
  assert.match(bt, /^#0 +0x[0-9a-f]+ in jit_crash \(\)/, bt);
});

test('called as native code would, in the same synchronous run, with no flush(): not yet named (the documented limit)', () => {
  const why = unusable();
  if (why !== undefined) return skipBecause('gdb crash test', why);
  const bt = backtraceAtFault('auto', 'raw');
  assert.match(bt, /^#0 +0x[0-9a-f]+ in \?\? \(\)/, bt);
});

test.run();
