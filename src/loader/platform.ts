import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { readInterpreter } from '../elf/reader.js';
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

/**
 * The C library an interpreter path names, resolved through its symlinks (gcompat on musl
 * installs a glibc-named loader that links to musl's): undefined when it names neither.
 */
export function libcOfInterpreter(path: string): 'glibc' | 'musl' | undefined {
  const file = basename(realpathSync.native(path));
  if (/^ld-linux-[^/]*\.so\.\d+$/.test(file)) return 'glibc';
  if (/^ld-musl-[^/]*$/.test(file)) return 'musl';
  return undefined;
}

/** The C library node's own executable asks for (its PT_INTERP), from its first page; undefined when that does not tell. */
function interpreterLibc(): 'glibc' | 'musl' | undefined {
  try {
    const head = new Uint8Array(4096);
    const fd = openSync(process.execPath, 'r');
    let length: number;
    try {
      length = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    const interpreter = readInterpreter(head.subarray(0, length));
    return interpreter === undefined ? undefined : libcOfInterpreter(interpreter);
  } catch {
    return undefined;
  }
}

function runningOnGlibc(): boolean {
  // The executable's interpreter first: some 0.35 ms in a fresh process, where reading
  // /proc/self/maps took 0.65 - 1.2 ms, and process.report (below, when neither tells) some
  // 20 ms to write a whole diagnostic report. A static node has no interpreter.
  const libc = interpreterLibc() ?? libcInMapsOfSelf();
  if (libc !== undefined) return libc === 'glibc';
  // process.report knows which libc Node was built against without loading anything native.
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return typeof header?.glibcVersionRuntime === 'string';
  } catch {
    return false;
  }
}

function libcInMapsOfSelf(): 'glibc' | 'musl' | undefined {
  try {
    return libcInMaps(readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return undefined; // no /proc
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
