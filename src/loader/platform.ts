import { readFileSync } from 'node:fs';
import { DlbindError } from './errors.js';

export type LoaderArch = 'x86_64' | 'aarch64';

export interface PlatformInfo {
  supported: boolean;
  arch?: LoaderArch;
  /** Why live libraries cannot work here, when they cannot. */
  reason?: string;
}

let simulated: PlatformInfo | undefined;

/**
 * Replaces the platform check, for tests that show what happens elsewhere
 * (this project's machines are all Linux/glibc). Pass undefined to restore it.
 */
export function simulatePlatform(info: { platform: string; arch: string; glibc: boolean } | undefined): void {
  simulated = info === undefined ? undefined : judge(info.platform, info.arch, info.glibc);
}

function judge(platform: string, arch: string, glibc: boolean): PlatformInfo {
  const archName = arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : undefined;
  if (platform !== 'linux') return { supported: false, reason: `platform '${platform}' is not Linux` };
  if (archName === undefined) return { supported: false, reason: `architecture '${arch}' is neither x86_64 nor aarch64` };
  if (!glibc) return { supported: false, reason: 'the C library is not glibc' };
  return { supported: true, arch: archName };
}

/**
 * The C library a /proc/<pid>/maps text shows mapped: glibc's libc.so.6, or musl's loader
 * (which is its libc); undefined when it shows neither.
 */
export function libcInMaps(maps: string): 'glibc' | 'musl' | undefined {
  if (/\/libc\.so\.6$/m.test(maps)) return 'glibc';
  if (/\/ld-musl-[^/\n]*$/m.test(maps)) return 'musl';
  return undefined;
}

function runningOnGlibc(): boolean {
  // From /proc/self/maps first: a fraction of a millisecond, where process.report (below, when
  // the maps say neither) takes some 20 ms to write a whole diagnostic report.
  try {
    const libc = libcInMaps(readFileSync('/proc/self/maps', 'latin1'));
    if (libc !== undefined) return libc === 'glibc';
  } catch {
    // no /proc: ask process.report
  }
  // process.report knows which libc Node was built against without loading anything native.
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return typeof header?.glibcVersionRuntime === 'string';
  } catch {
    return false;
  }
}

let cached: PlatformInfo | undefined;
export function platformInfo(): PlatformInfo {
  if (simulated !== undefined) return simulated;
  cached ??= judge(process.platform, process.arch, process.platform === 'linux' && runningOnGlibc());
  return cached;
}

/** Throws EPLATFORM where live libraries cannot work; returns the architecture where they can. */
export function requireSupportedPlatform(): LoaderArch {
  const info = platformInfo();
  if (!info.supported || info.arch === undefined) {
    throw new DlbindError('EPLATFORM', `live libraries need Linux with glibc on x86_64 or aarch64: ${info.reason}`);
  }
  return info.arch;
}
