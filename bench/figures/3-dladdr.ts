// Figure 3: libc dladdr on the objects of figure 2, through koffi and from the C driver.
import { dladdr, dlsym } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { OBJECT_KINDS, type ObjectKind, lookupObjects, measureObjects } from '../lib/objects.js';
import { time } from '../lib/stats.js';

const RUNS = 5;
const C_PASSES = 3;

export function run(ctx: Context) {
  const n = 100_000;
  const count = ctx.quick ? 200 : 1000;
  const f = new Figure(3, `dladdr: ${count.toLocaleString('en-US')} symbol addresses in objects holding ${n.toLocaleString('en-US')} symbols`, {
    symbols: n,
    addresses: count,
    runs: RUNS,
    cPassesPerRun: C_PASSES,
  });
  const o = lookupObjects(ctx, n);
  ctx.log('objects ready: live library, dlsave file, gcc -shared file');
  const probes = o.probes.slice(0, count);
  const addresses: Record<ObjectKind, bigint[]> = {
    live: probes.map((name) => o.liveAddress.get(name)!),
    saved: probes.map((name) => dlsym(o.savedHandle, name)!),
    gcc: probes.map((name) => dlsym(o.gccHandle, name)!),
    gccSysv: probes.map((name) => dlsym(o.gccSysvHandle, name)!),
  };
  // Untimed: every address is named back with its own symbol.
  for (const k of OBJECT_KINDS) {
    addresses[k].forEach((addr, i) => {
      const info = dladdr(addr);
      if (info?.sname !== probes[i] || info.saddr !== addr) throw new Error(`${k}: dladdr(0x${addr.toString(16)}) names ${info?.sname}, not ${probes[i]}`);
    });
  }
  const pass = (k: ObjectKind): number => time(() => addresses[k].forEach((addr) => dladdr(addr))) / count;
  measureObjects(ctx, f, o, 'dladdr', { per: 'call', count, runs: RUNS, passes: C_PASSES, koffiPass: pass });

  const goal = { max: 1.1, text: '≤ 1.1' };
  f.ratio('koffi: live library vs gcc file', 'koffi-live', 'koffi-gcc', goal);
  f.ratio('koffi: dlsave file vs gcc file', 'koffi-saved', 'koffi-gcc');
  f.ratio('C: live library vs gcc file', 'c-live', 'c-gcc', goal);
  f.ratio('C: dlsave file vs gcc file', 'c-saved', 'c-gcc', goal);
  f.ratio('C: live library vs gcc --hash-style=sysv file', 'c-live', 'c-gccSysv');
  f.note(
    `The addresses are those of the first ${count} names of figure 2's probe order. glibc's dladdr scans every symbol of the object that holds the address (DT_HASH: indexes 0 … nchain, i.e. the live library's whole capacity; DT_GNU_HASH: every bucket's chain), so a call costs in proportion to the symbol count, not a hash lookup.`,
  );
  return f.result();
}
