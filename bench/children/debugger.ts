// Figure 8's measurement under a debugger (or under none), in a process of its own:
// node --import tsx bench/children/debugger.ts EACH BULK
// In a library with debug 'off' (the anchor: nothing is announced) and in one
// with debug 'auto' (the default: announced while a debugger listens), times
// EACH rounds of "bind a data symbol, call a JIT function through dlfunc"
// (one announcement per bind while a debugger listens, made by the call), and
// BULK binds followed by one call (one announcement for all of them). Prints
// seconds per bind as one JSON line starting with @@bench, with the tracer's pid.
import { readFileSync } from 'node:fs';
import { SHF_WRITE, dlalloc, dlbind, dlcreate, dldelete, dlfunc } from '../lib/dlbind.js';
import { symbolNames } from '../lib/native.js';
import { now } from '../lib/stats.js';

const each = Number(process.argv[2]);
const bulk = Number(process.argv[3]);
const count = each + bulk;
const names = symbolNames(count);

function measure(mode: 'off' | 'auto'): { each: number; bulk: number } {
  const lib = dlcreate(undefined, { debug: mode, maxSymbols: count + 16, stringTableSize: 16 * count + 4096, data: 8 * count + 4096 });
  const call = dlfunc(lib.addFunction('bench_ret', Uint8Array.of(0xc3)), 'void bench_ret()');
  call();
  const base = dlalloc(lib, 8 * count, SHF_WRITE);
  let t0 = now();
  for (let i = 0; i < each; i++) {
    dlbind(lib, names[i]!, base + BigInt(8 * i), 8);
    call();
  }
  const perEach = (now() - t0) / each;
  t0 = now();
  for (let i = each; i < count; i++) dlbind(lib, names[i]!, base + BigInt(8 * i), 8);
  call();
  const perBulk = (now() - t0) / bulk;
  dldelete(lib);
  return { each: perEach, bulk: perBulk };
}

// Warm-up: the paths compiled, libc bound, the debugger's first reading of a library done.
measure('off');
measure('auto');
const tracer = Number(/^TracerPid:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
const off = measure('off');
const auto = measure('auto');
process.stdout.write(`@@bench ${JSON.stringify({ tracer, off, auto })}\n`);
