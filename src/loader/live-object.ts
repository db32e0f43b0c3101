// One live shared object: its backing file (a memfd, or a file in a chosen
// directory), the writable MAP_SHARED alias through which every write goes,
// and ld.so's own mappings of it after dlopen.
import { closeSync, constants as fsc, lstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ObjectLayout } from '../elf/writer.js';
import { DlbindError } from './errors.js';
import {
  type Libc,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  RTLD_GLOBAL,
  RTLD_LOCAL,
  RTLD_NOLOAD,
  RTLD_NOW,
  SEEK_DATA,
  SEEK_HOLE,
  getLibc,
  glibcVersion,
  libcFailure,
} from './libc.js';
import { type AliasRange, giveBackAliasRange, takeAliasRange } from './alias-space.js';
import { keepAliasInCores } from './debugger.js';
import { requireSupportedPlatform } from './platform.js';
import { randomHex } from './random.js';
import { type Capacity, imageFillsFile, preparedZygote, writeZygoteInto } from './zygote.js';

export type Backing = { kind: 'memfd' } | { kind: 'file'; directory: string };

export interface LiveObjectOptions {
  soname: string;
  capacity: Capacity;
  global: boolean;
  backing: Backing;
  /** Lay out .dynamic for a glibc that relocates it in place (before 2.35). Default: detected. */
  dynamicWritable?: boolean;
}

const filesToRemove = new Set<string>();
let exitHookInstalled = false;
function removeAtExit(path: string): void {
  filesToRemove.add(path);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of filesToRemove) {
        try {
          unlinkSync(p);
        } catch {
          // already gone
        }
      }
    });
  }
}

/** True when glibc relocates a writable .dynamic in place and faults on a read-only one (before 2.35). */
export function glibcRelocatesDynamic(): boolean {
  if (relocatesDynamic === undefined) {
    const [major, minor] = glibcVersion();
    relocatesDynamic = major < 2 || (major === 2 && minor < 35);
  }
  return relocatesDynamic;
}
let relocatesDynamic: boolean | undefined;

let forcedDynamicLayout: boolean | undefined;
/**
 * For tests: lay out .dynamic writable (true, as for glibc before 2.35) or
 * read-only (false) whatever glibc runs; undefined detects it again.
 */
export function forceDynamicLayout(writable: boolean | undefined): void {
  forcedDynamicLayout = writable;
}

let unusableLibc: DlbindError | undefined;
/**
 * The libc bindings, or EPLATFORM when this C library lacks a function dlbind
 * needs (memfd_create before glibc 2.27, say): koffi's own error would be a
 * plain Error naming the symbol.
 */
export function bindLibc(): Libc {
  if (unusableLibc !== undefined) throw unusableLibc;
  try {
    return getLibc();
  } catch (err) {
    if (err instanceof DlbindError) throw err;
    // Kept: a second attempt would fail on koffi's half-made bindings with a misleading message.
    unusableLibc = new DlbindError('EPLATFORM', `the C library cannot be used: ${(err as Error).message}`);
    throw unusableLibc;
  }
}

let closeFd: ((fd: number) => number) | undefined;
/**
 * close(2) for a descriptor that libc made (memfd_create, fcntl). Node's
 * closeSync would do, but in a worker thread it warns about descriptors it did
 * not open itself.
 */
function closeLibcFd(fd: number): void {
  closeFd ??= getLibc().koffi.load('libc.so.6').func('int close(int fd)') as (fd: number) => number;
  if (closeFd(fd) !== 0) throw libcFailure('close');
}

/**
 * Creates the backing file at exactly `path`: exclusively (an existing file
 * or a planted symlink makes it fail; neither is followed), mode 0600,
 * close-on-exec. Exported for tests, which cannot plant anything at the
 * random name openBackingFile picks.
 */
export function createBackingFile(path: string): number {
  try {
    return openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW | 0o2000000 /* O_CLOEXEC */, 0o600);
  } catch (err) {
    throw new DlbindError('EINVAL', `cannot create backing file ${path}: ${(err as Error).message}`);
  }
}

function openBackingFile(directory: string, soname: string): { fd: number; path: string } {
  const dir = resolve(directory);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new DlbindError('EINVAL', `backing directory ${dir} cannot be used: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new DlbindError('EINVAL', `backing directory ${dir} is not a directory`);
  // Anyone could swap a file in a world-writable directory without the sticky bit.
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    throw new DlbindError('EINVAL', `backing directory ${dir} is world-writable without the sticky bit`);
  }
  const path = join(dir, `${soname}.${randomHex(16)}`);
  const fd = createBackingFile(path);
  removeAtExit(path);
  return { fd, path };
}

const MADV_DONTDUMP = 16;
const MADV_DODUMP = 17;
type Madvise = (addr: bigint, length: number, advice: number) => number;
let madviseFn: Madvise | undefined;
function madvise(addr: bigint, length: number, advice: number): void {
  if (length <= 0) return;
  madviseFn ??= getLibc().koffi.load('libc.so.6').func('int madvise(void *addr, size_t length, int advice)') as unknown as Madvise;
  madviseFn(addr, length, advice);
}

/** A reserved region of the object whose pages go into core dumps only as far as it is used. */
interface DumpRegion {
  start: number;
  end: number;
  /** Pages below this object offset are dumped at creation. */
  dumped: number;
  /** The data segment's region: ld.so's shared mapping of the same bytes is advised too. */
  loaded: boolean;
}

/** What a new library of one layout leaves out of core dumps: the same for every library of it. */
export interface CorePlan {
  regions: DumpRegion[];
  /** madvise(MADV_DONTDUMP) ranges of the alias, [object offset, length]: regions that meet go in one call. */
  alias: [number, number][];
}
const corePlans = new WeakMap<ObjectLayout, CorePlan>();

/** The regions a core dump leaves out until used: every big table and section, the used start of each kept. */
export function corePlan(l: ObjectLayout): CorePlan {
  let plan = corePlans.get(l);
  if (plan !== undefined) return plan;
  plan = { regions: [], alias: [] };
  const page = l.pageSize;
  const shared = sharedDataRange(l);
  const spans: [number, number, number][] = [
    [l.dynsym.offset, l.dynsym.offset + l.dynsym.size, l.dynsym.offset + 24 * 64],
    [l.dynstr.offset, l.dynstr.offset + l.dynstr.size, l.dynstr.offset + l.dynstrUsed],
  ];
  // The GNU table's header, bloom words and buckets are in use from the start; its chain grows.
  if (l.gnuHash !== undefined)
    spans.push([l.gnuHash.offset, l.gnuHash.offset + l.gnuHash.size, l.gnuHash.offset + l.gnuHash.size - (l.dynsymCapacity - 1) * 4]);
  for (const name of ['text', 'rodata', 'data'] as const) {
    const c = l.content[name];
    if (c.size > 0) spans.push([c.offset, c.offset + c.size, c.offset]);
  }
  for (const [start, end, used] of spans.sort((a, b) => a[0] - b[0])) {
    const r: DumpRegion = { start, end, dumped: Math.ceil(used / page) * page, loaded: shared !== undefined && start === shared.offset };
    const last = Math.floor(end / page) * page;
    if (last <= r.dumped) continue;
    const prev = plan.alias[plan.alias.length - 1];
    if (prev !== undefined && prev[0] + prev[1] === r.dumped) prev[1] = last - prev[0];
    else plan.alias.push([r.dumped, last - r.dumped]);
    plan.regions.push(r);
  }
  corePlans.set(l, plan);
  return plan;
}

export class LiveObject {
  readonly layout: ObjectLayout;
  readonly fd: number;
  /** The path ld.so was given; for a memfd, /proc/<pid>/fd/<n>, so that a debugger reaches the same file. */
  readonly path: string;
  /** Set when the backing is a file of our own that must be removed. */
  readonly ownedFile: string | undefined;
  readonly aliasBase: bigint;
  /** The whole object, writable, through the alias. */
  readonly mem: Uint8Array;
  readonly handle: bigint;
  readonly linkMap: bigint;
  /** l_addr: what ld.so added to every st_value. */
  readonly loadBase: bigint;
  readonly fileSize: number;
  private aliasRange: AliasRange | undefined;
  /**
   * The big reserved regions (tables, sections): a shared memfd mapping is
   * dumped in full, and the kernel would fill every hole of it to write a core
   * (hundreds of MiB at the default capacity), so pages past what is in use
   * are MADV_DONTDUMP, and markUsed lets them in as use grows.
   */
  private dumpedTo: number[] | undefined;
  /** Whether the data pages are mapped MAP_SHARED at the loaded address yet (shareData). */
  private dataShared = false;
  private closed = false;

  constructor(options: LiveObjectOptions) {
    const arch = requireSupportedPlatform();
    const c = bindLibc();
    const dynamicWritable = options.dynamicWritable ?? forcedDynamicLayout ?? glibcRelocatesDynamic();
    const prepared = preparedZygote(arch, options.soname, options.capacity, dynamicWritable);
    this.layout = prepared.layout;
    this.fileSize = this.layout.fileSize;
    const page = this.layout.pageSize;

    let fd: number;
    let path: string;
    if (options.backing.kind === 'memfd') {
      fd = c.memfd_create(options.soname, MFD_CLOEXEC);
      if (fd < 0) throw libcFailure('memfd_create');
      if (namesMayBeClaimed) fd = unclaimedFdName(fd);
      path = `/proc/${process.pid}/fd/${fd}`;
      this.ownedFile = undefined;
    } else {
      ({ fd, path } = openBackingFile(options.backing.directory, options.soname));
      this.ownedFile = path;
    }
    this.fd = fd;
    this.path = path;
    let alias = 0n;
    let handle = 0n;
    let range: AliasRange | undefined;
    try {
      // Nothing reads the alias before the zygote's pages are in, and the last of them sets the size.
      if (!imageFillsFile(prepared) && c.ftruncate(fd, this.fileSize) !== 0) throw libcFailure('ftruncate of the backing file');
      range = takeAliasRange(this.fileSize, page);
      const want = range.space.base + BigInt(range.offset);
      alias = c.mmap(want, this.fileSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      if (alias !== want) {
        alias = 0n;
        throw libcFailure('mmap of the writable alias');
      }
      this.aliasBase = alias;
      this.aliasRange = range;
      keepAliasInCores(options.backing.kind === 'file');
      this.mem = range.space.view.subarray(range.offset, range.offset + this.fileSize);
      writeZygoteInto(
        this.mem,
        prepared,
        options.soname,
        () => writtenRanges(fd, this.fileSize),
        (bytes, position) => {
          const n = c.pwrite(fd, bytes, position);
          if (n < 0) throw libcFailure('pwrite to the backing file');
          if (n !== bytes.length) throw new DlbindError('ELIBC', 'a short write to the backing file');
        },
      );
      handle = c.dlopen(path, RTLD_NOW | (options.global ? RTLD_GLOBAL : RTLD_LOCAL));
      if (handle === 0n) throw new DlbindError('ELIBC', `dlopen(${path}) failed: ${c.dlerror() ?? 'unknown error'}`);
      this.handle = handle;
      this.linkMap = c.linkMapOf(handle);
      this.loadBase = c.readPointer(this.linkMap);
      // Checked now, though mapped at the first data block (shareData).
      sharedDataRange(this.layout);
      this.excludeUnusedFromCores();
    } catch (err) {
      if (handle !== 0n) c.dlclose(handle);
      if (range !== undefined) giveBackAliasRange(range, this.fileSize, page);
      if (options.backing.kind === 'memfd') closeLibcFd(fd);
      else closeSync(fd);
      if (this.ownedFile !== undefined) removeFile(this.ownedFile);
      throw err;
    }
  }

  /** Leaves the unused part of every big reserved region of the alias out of core dumps (see corePlan). */
  private excludeUnusedFromCores(): void {
    for (const [offset, length] of corePlan(this.layout).alias) madvise(this.aliasBase + BigInt(offset), length, MADV_DONTDUMP);
  }

  /**
   * ld.so mapped the data segment MAP_PRIVATE: the first store through the
   * loaded address would copy the page and hide later writes made through
   * the alias. A shared mapping of the same file range makes both one page.
   * Made when the first data block is handed out (markUsed), before anything
   * can store through the loaded address: no store reaches data outside a
   * block, and until then the private mapping shows the file's pages, is
   * never written, and is left out of core dumps as any unwritten private
   * file mapping is. An idle library saves the mmap and its madvise.
   */
  private shareData(): void {
    this.dataShared = true;
    const shared = sharedDataRange(this.layout);
    if (shared === undefined) return;
    const c = getLibc();
    const at = this.loadBase + BigInt(shared.addr);
    if (c.mmap(at, shared.length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, this.fd, shared.offset) !== at) {
      this.dataShared = false;
      throw libcFailure('mmap of the shared data segment');
    }
    const regions = corePlan(this.layout).regions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (!r.loaded) continue;
      const dumped = this.dumpedTo?.[i] ?? r.dumped;
      const last = Math.floor(r.end / this.layout.pageSize) * this.layout.pageSize;
      if (last > dumped) madvise(at + BigInt(dumped - r.start), last - dumped, MADV_DONTDUMP);
    }
  }

  /**
   * Bytes [offset, end) of the object hold something now: their pages (and,
   * growing by doubling, some after them) go into core dumps again. Returns
   * where that stretch now ends: a later call for the same region that ends
   * no further has nothing to do (Infinity when no region holds `offset`).
   */
  markUsed(offset: number, end: number): number {
    const data = this.layout.content.data;
    if (!this.dataShared && offset >= data.offset && offset < data.offset + data.size) this.shareData();
    const regions = corePlan(this.layout).regions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (offset < r.start || offset >= r.end) continue;
      // Made on the first use: a library nobody binds into carries none.
      const dumpedTo = (this.dumpedTo ??= regions.map((x) => x.dumped));
      const dumped = dumpedTo[i]!;
      if (end <= dumped) return dumped;
      const page = this.layout.pageSize;
      const to = Math.min(Math.ceil(r.end / page) * page, Math.ceil(Math.max(end, r.start + 2 * (dumped - r.start), dumped + (1 << 16)) / page) * page);
      madvise(this.aliasBase + BigInt(dumped), to - dumped, MADV_DODUMP);
      if (r.loaded && this.dataShared) madvise(this.loadBase + BigInt(sharedDataRange(this.layout)!.addr + dumped - r.start), to - dumped, MADV_DODUMP);
      dumpedTo[i] = to;
      return to;
    }
    return Number.POSITIVE_INFINITY;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Maps [objectOffset, objectOffset+length) of the text afresh from the file,
   * read+execute and private, over ld.so's mapping of it. A debugger's
   * software breakpoint (a ptrace write) gives the process a private copy of
   * the page it lands in; from then on writes through the alias no longer
   * show there. Mapping the page again drops that copy (and any breakpoint
   * still in it), so the code that runs is the code in the file again.
   */
  refreshText(objectOffset: number, length: number): void {
    const page = this.layout.pageSize;
    const start = Math.floor(objectOffset / page) * page;
    const end = Math.ceil((objectOffset + length) / page) * page;
    const c = getLibc();
    const at = this.loadBase + BigInt(start);
    const got = c.mmap(at, end - start, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, this.fd, start);
    if (got !== at) throw libcFailure('mmap refreshing a text page');
  }

  /**
   * dlclose, unmap the alias, close the backing, and remove a backing file.
   * Returns whether ld.so really unloaded the object: it keeps one that a
   * dlsym(RTLD_DEFAULT) found (glibc then records that the caller depends on
   * it), or one that somebody else also dlopen()ed.
   */
  close(): boolean {
    if (this.closed) return true;
    this.closed = true;
    const c = getLibc();
    const failures: string[] = [];
    if (c.dlclose(this.handle) !== 0) failures.push(`dlclose: ${c.dlerror() ?? 'unknown error'}`);
    // ld.so unmaps an object it unloads and never one it keeps, so an unmapped load base settles it
    // with one mincore; a mapped one may be our object or a stranger's new mapping, so ask ld.so.
    let still = 0n;
    if (c.unmapped(this.loadBase, 1) !== true) {
      still = c.dlopen(this.path, RTLD_NOW | RTLD_NOLOAD);
      if (still !== 0n) {
        c.dlclose(still);
        namesMayBeClaimed = true;
      }
    }
    const r = this.aliasRange!;
    if (!giveBackAliasRange(r, this.fileSize, this.layout.pageSize)) failures.push('unmapping the alias');
    try {
      if (this.ownedFile === undefined) closeLibcFd(this.fd);
      else closeSync(this.fd);
    } catch (err) {
      failures.push(`close: ${(err as Error).message}`);
    }
    if (this.ownedFile !== undefined) removeFile(this.ownedFile);
    if (failures.length > 0) throw new DlbindError('ELIBC', `deleting the library: ${failures.join('; ')}`);
    return still === 0n;
  }
}

/**
 * The pages of the data section that are mapped again MAP_SHARED over ld.so's
 * private mapping, or undefined when there is no data. They never reach
 * .dynamic's pages: a glibc that relocated .dynamic in place (a writable
 * PT_DYNAMIC) did so in its private copy, and a shared mapping there would
 * put the file's unrelocated words back under ld.so's feet.
 */
export function sharedDataRange(layout: ObjectLayout): { addr: number; offset: number; length: number } | undefined {
  const data = layout.content.data;
  if (data.size === 0) return undefined;
  const page = layout.pageSize;
  const length = Math.ceil(data.size / page) * page;
  const dynStart = Math.floor(layout.dynamic.addr / page) * page;
  const dynEnd = Math.ceil((layout.dynamic.addr + layout.dynamic.size) / page) * page;
  if (data.addr % page !== 0 || data.offset % page !== 0 || (data.addr < dynEnd && dynStart < data.addr + length)) {
    throw new Error(
      `zygote layout: the data pages [0x${data.addr.toString(16)}, +0x${length.toString(16)}) cannot be shared apart from .dynamic at 0x${layout.dynamic.addr.toString(16)}`,
    );
  }
  return { addr: data.addr, offset: data.offset, length };
}

/** Set once an object outlived its dldelete: only then can a /proc/<pid>/fd/<n> name be taken. */
let namesMayBeClaimed = false;

/**
 * ld.so knows loaded objects by name first. An object that outlived its
 * dldelete (glibc pins a library that a dlsym(RTLD_DEFAULT) found, for the
 * caller's sake) keeps its /proc/<pid>/fd/<n> name after the fd is closed, and
 * dlopen of a new memfd that got the same number would hand back the old
 * object. Move the fd to a number whose name no loaded object has.
 */
function unclaimedFdName(fd: number): number {
  const c = getLibc();
  const pid = process.pid;
  for (let tries = 0; tries < 64; tries++) {
    const stale = c.dlopen(`/proc/${pid}/fd/${fd}`, RTLD_NOW | RTLD_NOLOAD);
    if (stale === 0n) return fd;
    c.dlclose(stale);
    const moved = c.dupCloexec(fd, fd + 1);
    closeLibcFd(fd);
    if (moved < 0) throw libcFailure('fcntl(F_DUPFD_CLOEXEC)');
    fd = moved;
  }
  throw new DlbindError('ELIBC', 'no free /proc/<pid>/fd/<n> name for a new library');
}

/** The written ranges [start, end) of a sparse file, or undefined when the file system cannot say. */
function writtenRanges(fd: number, size: number): [number, number][] | undefined {
  const c = getLibc();
  const ranges: [number, number][] = [];
  for (let at = 0; at < size; ) {
    const start = c.lseek(fd, at, SEEK_DATA);
    if (start < 0) break; // ENXIO: holes to the end
    const end = c.lseek(fd, start, SEEK_HOLE);
    if (end <= start) return undefined;
    ranges.push([start, Math.min(end, size)]);
    at = end;
  }
  return ranges;
}

function removeFile(path: string): void {
  filesToRemove.delete(path);
  try {
    if (lstatSync(path).isFile()) unlinkSync(path);
  } catch {
    // already gone
  }
}
