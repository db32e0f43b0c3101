// Figure 7's measurement, in a fresh process each time:
// node --expose-gc --import tsx bench/children/memory.ts dlbind|gcc COUNT DIR [GCC.so]
// Reads VmRSS (and its anonymous, file and shared-memory parts) from
// /proc/self/status before and after one library, then after COUNT in all,
// and prints the differences in bytes as JSON. `gcc` dlopens copies of GCC.so
// (each its own file, so each its own object) instead of calling dlcreate.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dlcreate, dldelete } from '../lib/dlbind.js';
import { dlcloseAll, dlopenOrThrow } from '../lib/native.js';
import { collect } from '../lib/stats.js';

const [kind, countArg, dir, gccSo] = process.argv.slice(2);
const count = Number(countArg);
const FIELDS = ['VmRSS', 'RssAnon', 'RssFile', 'RssShmem'] as const;
type Rss = Record<(typeof FIELDS)[number], number>;

function rss(): Rss {
  collect();
  collect();
  const status = readFileSync('/proc/self/status', 'utf8');
  const out = {} as Rss;
  for (const f of FIELDS) out[f] = Number(new RegExp(`^${f}:\\s*(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return out;
}
const minus = (a: Rss, b: Rss, per = 1): Rss => Object.fromEntries(FIELDS.map((f) => [f, (a[f] - b[f]) / per])) as Rss;

const WARM_UP = 20;
const paths: string[] = [];
if (kind === 'gcc') for (let i = 0; i < count + WARM_UP; i++) copyFileSync(gccSo!, (paths[i] = join(dir!, `memory-${process.pid}-${i}.so`)));
const open = (i: number): unknown => (kind === 'gcc' ? dlopenOrThrow(paths[i]!) : dlcreate());
// Warm-up: libc bound through koffi, the code paths compiled (optimised, too: V8's compiler
// threads keep the malloc arenas they grow, which one warm-up library left to the measured one),
// then given back. The first library of a shape is written by the ELF writer, later ones copy it.
for (let i = count; i < count + WARM_UP; i++) {
  const first = open(i);
  if (kind === 'gcc') dlcloseAll([first as bigint]);
  else dldelete(first as ReturnType<typeof dlcreate>);
}

const kept: unknown[] = [];
const before = rss();
kept.push(open(0));
const afterOne = rss();
for (let i = 1; i < count; i++) kept.push(open(i));
const afterAll = rss();
process.stdout.write(`${JSON.stringify({ one: minus(afterOne, before), each: minus(afterAll, before, count) })}\n`);
