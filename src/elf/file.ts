import { close, closeSync, constants, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type SharedObjectSpec, buildSharedObject } from './builder.js';

/** How {@link writeFileAtomic} writes. */
export interface WriteFileOptions {
  /**
   * fsync the new file before it takes the old one's name (the default), so that once the call
   * returns its bytes are on disk, and a crash leaves the new file whole or the old one (under
   * its name aside, if the crash fell between the two renames). `false` writes as ld and ld.lld
   * do: readers still never see a half-written file, but a power loss soon after may leave one.
   * At 98 MiB the fsync was about a third of the write's time on the bench machine.
   */
  fsync?: boolean;
  /**
   * Unlink an old regular file at the path before writing, as GNU ld and ld.lld do (`false`
   * by default). Its page-cache pages are then free for the new file's. On the bench machine, a
   * VM whose host takes back guest memory that has been free for a while, a 98 MiB write took
   * a median of 27 ms that way, against 246 ms with the old file kept until the new one had its
   * name (BENCHMARKS.md, stop 33). The cost is the guarantee: while the write is under way the
   * path names no file, and a write that fails leaves none. A process that has the old file open
   * or mapped keeps its bytes either way.
   */
  freeOldFirst?: boolean;
}

/** An old file at least this large is freed off the calling thread: see {@link writeFileAtomic}. */
const DEFER_FREE_BYTES = 4 << 20;

/**
 * Writes bytes to `path` atomically: a fresh temporary file beside it (created exclusively,
 * with `mode` less the umask), fsync unless `options.fsync` is false, then the rename to
 * `path`. Readers see the old file or the new one, never a half-written one; a process that
 * has the old file mapped keeps its pages. On any error the temporary file is removed and the
 * target is left as it was.
 *
 * An old regular file at `path` is first renamed aside, and removed after the new file has
 * its name. Renaming over it would be simpler, but ext4 (auto_da_alloc) then starts writing
 * the whole new file out inside the rename: 98 MiB took a median of 59 ms that way against 33
 * (no fsync; BENCHMARKS.md, stop 32). A large old file is freed in the background, as ld.lld
 * does: the name goes at once and the last descriptor on it is closed on libuv's pool, or by
 * the kernel at exit. `options.freeOldFirst` gives up keeping the old file for a faster write.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o755, options: WriteFileOptions = {}): void {
  if (options?.freeOldFirst === true) unlinkOldFile(path);
  const { fd, tmp } = openTemporary(path, '.tmp', mode);
  let aside: Aside | undefined;
  try {
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      if (options?.fsync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    aside = moveAside(path);
    renameSync(tmp, path);
  } catch (err) {
    removeQuietly(tmp);
    if (aside !== undefined) restore(aside.name, path, err);
    throw err;
  }
  if (aside !== undefined) freeAside(aside);
}

/** An old file renamed aside: its new name, and its size when it was moved. */
interface Aside {
  name: string;
  size: number;
}

/** Renames an old regular file at `path` to a free name beside it; returns where it went, if anywhere. */
function moveAside(path: string): Aside | undefined {
  const old = lstatSync(path, { throwIfNoEntry: false });
  // Anything else (a symlink, a directory) is left to the rename, which replaces a symlink
  // itself and refuses a directory, as before.
  if (!old?.isFile()) return undefined;
  // A fresh name, not an exclusive placeholder: a rename over any file, even an empty one,
  // would set off the same write-out.
  const tmp = freeName(path, '.old');
  try {
    renameSync(path, tmp);
  } catch (err) {
    // Gone meanwhile (another writer): there is nothing to keep.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { name: tmp, size: old.size };
}

/** Unlinks a regular file at `path`, if there is one; anything else is left to the final rename. */
function unlinkOldFile(path: string): void {
  if (lstatSync(path, { throwIfNoEntry: false })?.isFile()) removeQuietly(path);
}

/** Puts the old file back after a failed rename; says where it is if even that fails. */
function restore(aside: string, path: string, cause: unknown): void {
  try {
    renameSync(aside, path);
  } catch {
    (cause as Error).message += ` (the old file is kept as ${aside})`;
  }
}

function freeAside(aside: Aside): void {
  let fd = -1;
  try {
    if (aside.size >= DEFER_FREE_BYTES) fd = openSync(aside.name, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0));
  } catch {
    fd = -1;
  }
  removeQuietly(aside.name);
  // The unlink above was quick because this descriptor still holds the blocks.
  if (fd >= 0) close(fd, () => {});
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

let temporaries = 0;

function uniqueName(path: string, suffix: string): string {
  const unique = `${process.pid.toString(36)}${(temporaries++).toString(36)}${Math.floor(Math.random() * 0x1_0000_0000).toString(36)}`;
  return join(dirname(path), `.${basename(path)}.${unique}${suffix}`);
}

/** A name beside `path` that no file has now. */
function freeName(path: string, suffix: string): string {
  for (;;) {
    const name = uniqueName(path, suffix);
    if (lstatSync(name, { throwIfNoEntry: false }) === undefined) return name;
  }
}

/**
 * Creates a new file beside `path` with a name no other file has (O_EXCL: never an existing
 * file or symlink), trying other names while one is taken. The name need not be unpredictable,
 * so it is not drawn from node:crypto, which took about 6 ms of a short command to load.
 */
function openTemporary(path: string, suffix: string, mode: number): { fd: number; tmp: string } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  for (let attempt = 0; ; attempt++) {
    const tmp = uniqueName(path, suffix);
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
