import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type SharedObjectSpec, buildSharedObject } from './builder.js';

/**
 * Writes bytes to `path` atomically: a fresh temporary file beside it
 * (created exclusively), fsync, then rename over the target. Readers see the
 * old file or the new one, never a half-written one; on any error the
 * temporary file is removed and the target is left as it was.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o755): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), mode);
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

/** Builds a shared object from a spec and writes it to `path` atomically. Returns its size. */
export function writeSharedObject(path: string, spec: SharedObjectSpec): number {
  const bytes = buildSharedObject(spec);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
