// Figure 1's native call floor: node bench/children/koffi-call-floor.mjs COUNT [WARM_UP]
// The first COUNT calls, in a fresh process, of libc's strlen through a koffi function with the
// name as its `const char *` argument ('jit_obj_<i>', made before the clock starts), and prints
// the seconds. What a bind whose stores ran in native code would pay per call before the stores
// themselves: the call, and the name's copy out of V8 as a C string. With WARM_UP, that many
// calls of other names come first, untimed.
import { createRequire } from 'node:module';

const [count, warmUp = 0] = process.argv.slice(2).map(Number);
const koffi = createRequire(import.meta.url)('koffi');
const strlen = koffi.load('libc.so.6').func('size_t strlen(const char *s)');
let total = 0;
for (let i = 0; i < warmUp; i++) total += Number(strlen(`warm_obj_${i}`));
const names = Array.from({ length: count }, (_, i) => `jit_obj_${i}`);
const t = performance.now();
for (let i = 0; i < count; i++) total += Number(strlen(names[i]));
const seconds = (performance.now() - t) / 1000;
let expected = 0;
for (let i = 0; i < count; i++) expected += names[i].length;
for (let i = 0; i < warmUp; i++) expected += `warm_obj_${i}`.length;
if (total !== expected) throw new Error(`strlen through koffi summed ${total}, not ${expected}`);
process.stdout.write(`${seconds}\n`);
