// Figure 2: libc dlsym of every name in a live library, against a gcc-built
// .so with the same names; through koffi, then from a C driver so that the
// FFI's cost does not hide the quality of the hash tables.
import { dlsym } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OBJECT_KINDS, type ObjectKind, cDriver, lookupObjects, measureObjects } from '../lib/objects.js';
import { time } from '../lib/stats.js';

const RUNS = 7;
const C_PASSES = 9;

export function run(ctx: Context) {
  const n = 100_000;
  const f = new Figure(2, `Lookup: libc dlsym of ${n.toLocaleString('en-US')} names in objects holding those ${n.toLocaleString('en-US')} symbols`, {
    symbols: n,
    runs: RUNS,
    cPassesPerRun: C_PASSES,
  });
  const o = lookupObjects(ctx, n);
  ctx.log('objects ready: live library, dlsave file, gcc -shared file');
  const handles: Record<ObjectKind, Parameters<typeof dlsym>[0]> = { live: o.live, saved: o.savedHandle, gcc: o.gccHandle, gccSysv: o.gccSysvHandle };
  const pass = (k: ObjectKind): number => {
    let missing = 0;
    const target = handles[k];
    const seconds = time(() => {
      for (const name of o.probes) if (dlsym(target, name) === null) missing++;
    });
    if (missing > 0) throw new Error(`${k}: ${missing} names not found`);
    return seconds / n;
  };
  for (const k of OBJECT_KINDS) pass(k); // warm-up, and every name must resolve
  for (const [name, addr] of o.liveAddress) if (dlsym(o.live, name) !== addr) throw new Error(`live ${name} is not at its address`);
  measureObjects(ctx, f, o, 'dlsym', { per: 'lookup', count: n, runs: RUNS, passes: C_PASSES, koffiPass: pass });

  // Misses: names absent from the object, looked up with dlsym(RTLD_DEFAULT) from the C driver with the object loaded RTLD_GLOBAL,
  // so that each one crosses every global object's table (the program's, libc's, ..., and this one).
  const absentFile = join(ctx.workDir, `absent-${n}.txt`);
  writeFileSync(absentFile, `${o.probes.map((name) => `${name}_absent`).join('\n')}\n`);
  const missLive = f.measure({ id: 'c-miss-live', label: 'C → dlsym(RTLD_DEFAULT) miss, live library loaded RTLD_GLOBAL', show: 'time', per: 'lookup' });
  const missGcc = f.measure({
    id: 'c-miss-gcc',
    label: 'C → dlsym(RTLD_DEFAULT) miss, gcc -shared file loaded RTLD_GLOBAL (anchor)',
    show: 'time',
    per: 'lookup',
  });
  for (let r = 0; r < RUNS; r++) {
    missLive(cDriver(ctx, 'miss', o.live.path, absentFile, n, C_PASSES));
    missGcc(cDriver(ctx, 'miss', o.gccPath, absentFile, n, C_PASSES));
  }

  const goal = { max: 1.1, text: '≤ 1.1' };
  f.ratio('koffi: live library vs gcc file', 'koffi-live', 'koffi-gcc', goal);
  f.ratio('koffi: dlsave file vs gcc file', 'koffi-saved', 'koffi-gcc');
  f.ratio('C: dlsave file vs gcc file', 'c-saved', 'c-gcc', goal);
  f.ratio('C: live library vs gcc file', 'c-live', 'c-gcc', { max: 1.0, text: '≤ 1.0' });
  f.ratio('C: misses (RTLD_DEFAULT), live library vs gcc file', 'c-miss-live', 'c-miss-gcc', goal);
  f.ratio('koffi: live library vs gcc --hash-style=sysv file', 'koffi-live', 'koffi-gccSysv');
  f.ratio('C: live library vs gcc --hash-style=sysv file', 'c-live', 'c-gccSysv');
  f.ratio('C: gcc --hash-style=sysv file vs gcc file (what SysV costs the toolchain)', 'c-gccSysv', 'c-gcc');
  f.note(
    `Names jit_obj_0 … jit_obj_${n - 1}, probed in one fixed random order, every one present; each koffi sample is one pass over all names (after an untimed one), each C sample the median of ${C_PASSES} timed passes after an untimed one, in a fresh process per object per run.`,
  );
  f.note(
    "Hash tables: the live library has a GNU table patched in place, each bucket's chain a run of consecutive slots, a bloom filter of one 64-bit word per 8 symbols of capacity; its bucket count grows with use by raising ld.so's cached l_nbuckets (5 at the start, doubling: 81,920 here for 100,000 names, once lib.flush({ settle: true }) has finished the last growth and split shared runs, which the bench does after binding and before any lookup). gcc here links with --hash-style=gnu (ld: 65,537 buckets for 100,000 names). dlsave writes both tables, and ld.so then uses the GNU one. The gcc --hash-style=sysv file is the same object with a SysV table only. Misses: each absent name is the probe name with _absent appended.",
  );
  f.note('The C driver loads the live library through its /proc/<pid>/fd/<n> name: the same memfd, with the same table, as the bench process has loaded.');
  return f.result();
}
