import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type SharedObjectSpec, buildSharedObject } from './builder.js';

/**
 * Writes bytes to `path` atomically: a fresh temporary file beside it
 * (created exclusively), fsync, then rename over the target. Readers see the
 * old file or the new one, never a half-written one; on any error the
 * temporary file is removed and the target is left as it was.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o755): void {
  const { fd, tmp } = openTemporary(path, mode);
  try {
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

let temporaries = 0;

/**
 * Creates a new file beside `path` with a name no other file has (O_EXCL: never an existing
 * file or symlink), trying other names while one is taken. The name need not be unpredictable,
 * so it is not drawn from node:crypto, which took about 6 ms of a short command to load.
 */
function openTemporary(path: string, mode: number): { fd: number; tmp: string } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  for (let attempt = 0; ; attempt++) {
    const unique = `${process.pid.toString(36)}${(temporaries++).toString(36)}${Math.floor(Math.random() * 0x1_0000_0000).toString(36)}`;
    const tmp = join(dirname(path), `.${basename(path)}.${unique}.tmp`);
    try {
      return { fd: openSync(tmp, flags, mode), tmp };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 100) throw err;
    }
  }
}

/** Builds a shared object from a spec and writes it to `path` atomically. Returns its size. */
export function writeSharedObject(path: string, spec: SharedObjectSpec): number {
  const bytes = buildSharedObject(spec);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
