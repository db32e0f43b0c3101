// The three objects figures 2 and 3 look symbols up in, all holding the same
// names: a live library, the file dlsave wrote from it, and a .so built by
// gcc -shared from assembly. Plus the C driver that times libc without koffi.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JitLibrary, SHF_WRITE, dlalloc, dlbind, dlcreate, dlsave } from './dlbind.js';
import type { Context, Figure } from './figure.js';
import { dlopenOrThrow, symbolNames } from './native.js';
import { collect, median, shuffled } from './stats.js';
import { cHelper, run, writeDataAssembly } from './tools.js';

export interface LookupObjects {
  /** Names in probe order (a fixed shuffle), the same for every object. */
  probes: string[];
  /** The probe names, one a line, for the C driver. */
  probeFile: string;
  live: JitLibrary;
  /** Where each name is bound in the live library. */
  liveAddress: Map<string, bigint>;
  savedPath: string;
  savedHandle: bigint;
  gccPath: string;
  gccHandle: bigint;
  /** The same, linked with --hash-style=sysv: the only table a live library can have, as the toolchain builds it. */
  gccSysvPath: string;
  gccSysvHandle: bigint;
}

export function lookupObjects(ctx: Context, n: number): LookupObjects {
  const names = symbolNames(n);
  const live = dlcreate(undefined, { maxSymbols: n, stringTableSize: names.reduce((s, x) => s + x.length + 1, 4096), data: 8 * n });
  const base = dlalloc(live, 8 * n, SHF_WRITE);
  const liveAddress = new Map<string, bigint>();
  names.forEach((name, i) => {
    const addr = base + BigInt(8 * i);
    dlbind(live, name, addr, 8);
    liveAddress.set(name, addr);
  });
  // Done binding, as a program is before it hands the library to other processes: the bucket count has finished
  // growing (each step waits out a 50 ms quarantine, and this process runs no timers while it binds) and shared runs
  // are split. What a library looks like before that is in figure 2's note.
  live.flush({ settle: true });
  const savedPath = join(ctx.workDir, `saved-${n}.so`);
  dlsave(live, savedPath);
  const gccPath = join(ctx.workDir, `gcc-${n}.so`);
  const gccSysvPath = join(ctx.workDir, `gcc-sysv-${n}.so`);
  writeDataAssembly(join(ctx.workDir, `gcc-${n}.s`), names);
  run('gcc', ['-shared', '-o', gccPath, join(ctx.workDir, `gcc-${n}.s`)], { quiet: true });
  run('gcc', ['-shared', '-Wl,--hash-style=sysv', '-o', gccSysvPath, join(ctx.workDir, `gcc-${n}.s`)], { quiet: true });
  const probes = shuffled(names);
  const probeFile = join(ctx.workDir, `probes-${n}.txt`);
  writeFileSync(probeFile, `${probes.join('\n')}\n`);
  return {
    probes,
    probeFile,
    live,
    liveAddress,
    savedPath,
    savedHandle: dlopenOrThrow(savedPath),
    gccPath,
    gccHandle: dlopenOrThrow(gccPath),
    gccSysvPath,
    gccSysvHandle: dlopenOrThrow(gccSysvPath),
  };
}

/**
 * Runs the C driver on one object: an untimed pass that checks every answer,
 * then `passes` timed ones. Returns the median pass's seconds per call.
 */
export function cDriver(ctx: Context, mode: 'dlsym' | 'dladdr' | 'miss', path: string, probeFile: string, count: number, passes: number): number {
  const driver = cHelper(ctx.binDir, 'lookup', ['-ldl']);
  const r = spawnSync(driver, [mode, path, probeFile, String(count), String(passes)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lookup ${mode} ${path} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { count: number; passNs: number[] };
  return median(out.passNs) / 1e9 / out.count;
}

export const OBJECT_KINDS = ['live', 'saved', 'gcc', 'gccSysv'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];
const OBJECT_LABELS: Record<ObjectKind, string> = {
  live: 'live library',
  saved: 'dlsave file',
  gcc: 'gcc -shared file (anchor)',
  gccSysv: 'gcc -shared -Wl,--hash-style=sysv file',
};

/**
 * Measures `call` on each of the three objects, `runs` times, interleaved:
 * through koffi in this process (`koffiPass` returns seconds per call), then
 * from the C driver in a fresh process per object. Measurement ids are
 * koffi-<kind> and c-<kind>.
 */
export function measureObjects(
  ctx: Context,
  f: Figure,
  o: LookupObjects,
  call: 'dlsym' | 'dladdr',
  options: { per: string; count: number; runs: number; passes: number; koffiPass: (kind: ObjectKind) => number },
): void {
  const declare = (via: 'koffi' | 'C') =>
    Object.fromEntries(
      OBJECT_KINDS.map((k) => [
        k,
        f.measure({ id: `${via.toLowerCase()}-${k}`, label: `${via} → ${call}, ${OBJECT_LABELS[k]}`, show: 'time', per: options.per }),
      ]),
    ) as Record<ObjectKind, (sample: number) => void>;
  const koffi = declare('koffi');
  const c = declare('C');
  const paths: Record<ObjectKind, string> = { live: o.live.path, saved: o.savedPath, gcc: o.gccPath, gccSysv: o.gccSysvPath };
  for (let r = 0; r < options.runs; r++) {
    for (const k of OBJECT_KINDS) {
      collect();
      koffi[k](options.koffiPass(k));
    }
    for (const k of OBJECT_KINDS) c[k](cDriver(ctx, call, paths[k], o.probeFile, options.count, options.passes));
    ctx.log(`run ${r + 1} done`);
  }
}
