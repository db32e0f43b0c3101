// libc, called directly through koffi. Nothing here runs at import time:
// bindings are made on first use, so importing dlbind works on any platform.
import { createRequire } from 'node:module';
import { DlbindError } from './errors.js';
import { requireSupportedPlatform } from './platform.js';

export const RTLD_LAZY = 0x1;
export const RTLD_NOW = 0x2;
export const RTLD_NOLOAD = 0x4;
export const RTLD_GLOBAL = 0x100;
export const RTLD_LOCAL = 0;
export const RTLD_DI_LINKMAP = 2;
export const MFD_CLOEXEC = 1;
const ENOMEM = 12;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_NORESERVE = 0x4000;
/** mmap's MAP_FAILED, (void *) -1, as koffi returns it for a pointer. */
export const MAP_FAILED = 0xffffffffffffffffn;

export interface DlInfo {
  /** Path of the object holding the address. */
  dli_fname: string | null;
  /** Load base of that object. */
  dli_fbase: bigint;
  /** Name of the nearest symbol at or below the address, or null. */
  dli_sname: string | null;
  /** Address of that symbol, or 0n. */
  dli_saddr: bigint;
}

/** koffi's module, typed by its own declarations; loaded only on first use. */
export type Koffi = typeof import('koffi');
/** A koffi type, such as a function prototype. */
export type KoffiType = ReturnType<Koffi['proto']>;
/** A C function koffi has bound. */
export type KoffiFunction = ReturnType<ReturnType<Koffi['load']>['func']>;
// biome-ignore lint/suspicious/noExplicitAny: koffi checks each call against its C declaration at run time
type Fn = (...args: any[]) => any;

export interface Libc {
  koffi: Koffi;
  dlopen(path: string, flags: number): bigint;
  dlclose(handle: bigint): number;
  dlsym(handle: bigint, name: string): bigint;
  dlsymBytes(handle: bigint, name: Uint8Array): bigint;
  /** dlvsym: `name` at `version` exactly (0n handle: RTLD_DEFAULT). */
  dlvsym(handle: bigint, name: string, version: string): bigint;
  dlerror(): string | null;
  dladdr(addr: bigint): DlInfo | null;
  /** The link_map of a dlopen handle (RTLD_DI_LINKMAP). */
  linkMapOf(handle: bigint): bigint;
  memfd_create(name: string, flags: number): number;
  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  mprotect(addr: bigint, length: number, prot: number): number;
  getpid(): number;
  /** lseek(2); SEEK_DATA and SEEK_HOLE find a sparse file's written ranges. -1 on failure (ENXIO: no data past `offset`). */
  lseek(fd: number, offset: number, whence: number): number;
  /**
   * Whether any page of [addr, addr + length) is unmapped (mincore(2) fails
   * with ENOMEM): true or false when the kernel says, undefined when mincore
   * failed otherwise. At most 16 pages.
   */
  unmapped(addr: bigint, length: number): boolean | undefined;
  /** pwrite(2) of all of `bytes` at `offset`: the count written, or -1. */
  pwrite(fd: number, bytes: Uint8Array, offset: number): number;
  /** ftruncate(2): 0, or -1. */
  ftruncate(fd: number, length: number): number;
  /** fcntl(fd, F_DUPFD_CLOEXEC, min): a close-on-exec duplicate numbered at least `min`. */
  dupCloexec(fd: number, min: number): number;
  gnu_get_libc_version(): string;
  errno(): number;
  strerror(errnum: number): string;
  /** An ArrayBuffer over native memory, without copying. */
  view(addr: bigint, length: number): ArrayBuffer;
  /** The address of a typed array's first byte (its buffer's data plus its offset). */
  addressOf(bytes: Uint8Array): bigint;
  /** Reads a pointer-sized word. */
  readPointer(addr: bigint): bigint;
  /** Calls a function pointer. */
  call(addr: bigint, proto: KoffiType, ...args: unknown[]): unknown;
  proto(signature: string): KoffiType;
}

let libc: Libc | undefined;

function bind(): Libc {
  requireSupportedPlatform();
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new DlbindError('EPLATFORM', `koffi could not be loaded: ${(err as Error).message}`);
  }
  const lib = koffi.load('libc.so.6');
  const f = (decl: string): Fn => lib.func(decl);
  // Anonymous: koffi's type names are process-wide, and another copy of dlbind (the ESM and the CommonJS entry) may bind libc too.
  const DlInfoStruct = koffi.struct({
    dli_fname: 'const char *',
    dli_fbase: 'void *',
    dli_sname: 'const char *',
    dli_saddr: 'void *',
  });
  const dlopen = f('void *dlopen(const char *path, int flags)');
  const dlclose = f('int dlclose(void *handle)');
  const dlsym = f('void *dlsym(void *handle, const char *name)');
  const dlsymBytes = lib.func('dlsym', 'void *', ['void *', 'uint8_t *']);
  const dlvsym = f('void *dlvsym(void *handle, const char *name, const char *version)');
  const dlerror = f('const char *dlerror()');
  const dladdr = lib.func('dladdr', 'int', ['void *', koffi.out(koffi.pointer(DlInfoStruct))]);
  // The link_map pointer lands in a typed array koffi passes as is: an out-parameter array costs each call some 0.5 µs more.
  const dlinfo = f('int dlinfo(void *handle, int request, uint64_t *arg)');
  const linkMapOut = new BigUint64Array(1);
  const memfd_create = f('int memfd_create(const char *name, unsigned int flags)');
  const mmap = f('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const munmap = f('int munmap(void *addr, size_t length)');
  const mprotect = f('int mprotect(void *addr, size_t length, int prot)');
  const getpid = f('int getpid()');
  const lseek = f('int64_t lseek(int fd, int64_t offset, int whence)');
  const mincore = f('int mincore(void *addr, size_t length, uint8_t *vec)');
  const pwrite = f('int64_t pwrite(int fd, const uint8_t *buf, size_t count, int64_t offset)');
  const ftruncate = f('int ftruncate(int fd, int64_t length)');
  // mincore's vector: one byte per page of the ranges asked about (callers ask about one page).
  const residency = new Uint8Array(16);
  const fcntl = f('int fcntl(int fd, int cmd, ...)');
  const gnu_get_libc_version = f('const char *gnu_get_libc_version()');
  const strerror = f('const char *strerror(int errnum)');
  // memmove of 0 bytes returns its destination: the array's address as koffi passed it.
  const memmove = f('void *memmove(void *dest, const void *src, size_t n)');
  const big = (p: unknown): bigint => (p === null || p === undefined ? 0n : typeof p === 'bigint' ? p : BigInt(koffi.address(p)));
  return {
    koffi,
    dlopen: (path, flags) => big(dlopen(path, flags)),
    dlclose: (handle) => dlclose(handle),
    dlsym: (handle, name) => big(dlsym(handle === 0n ? null : handle, name)),
    dlsymBytes: (handle, name) => big(dlsymBytes(handle === 0n ? null : handle, name)),
    dlvsym: (handle, name, version) => big(dlvsym(handle === 0n ? null : handle, name, version)),
    dlerror: () => dlerror() ?? null,
    dladdr: (addr) => {
      const info: Record<string, unknown> = {};
      if (dladdr(addr, info) === 0) return null;
      return {
        dli_fname: (info.dli_fname as string | null) ?? null,
        dli_fbase: big(info.dli_fbase),
        dli_sname: (info.dli_sname as string | null) ?? null,
        dli_saddr: big(info.dli_saddr),
      };
    },
    linkMapOf: (handle) => {
      if (dlinfo(handle, RTLD_DI_LINKMAP, linkMapOut) !== 0) throw new DlbindError('ELIBC', `dlinfo failed: ${dlerror() ?? 'unknown error'}`);
      return linkMapOut[0]!;
    },
    memfd_create: (name, flags) => memfd_create(name, flags),
    mmap: (addr, length, prot, flags, fd, offset) => big(mmap(addr === 0n ? null : addr, length, prot, flags, fd, offset)),
    munmap: (addr, length) => munmap(addr, length),
    mprotect: (addr, length, prot) => mprotect(addr, length, prot),
    getpid: () => getpid(),
    lseek: (fd, offset, whence) => Number(lseek(fd, offset, whence)),
    unmapped: (addr, length) => {
      if (mincore(addr, length, residency) === 0) return false;
      return koffi.errno() === ENOMEM ? true : undefined;
    },
    pwrite: (fd, bytes, offset) => Number(pwrite(fd, bytes, bytes.length, offset)),
    ftruncate: (fd, length) => ftruncate(fd, length),
    dupCloexec: (fd, min) => fcntl(fd, F_DUPFD_CLOEXEC, 'int', min),
    gnu_get_libc_version: () => gnu_get_libc_version(),
    errno: () => koffi.errno(),
    strerror: (errnum) => strerror(errnum) ?? `errno ${errnum}`,
    view: (addr, length) => koffi.view(addr, length),
    addressOf: (bytes) => big(memmove(bytes, bytes, 0)),
    // decode, not a DataView over koffi.view: a view is an ArrayBuffer with a finalizer, some 3x the cost.
    readPointer: (addr) => BigInt(koffi.decode(addr, 'uint64_t') as number | bigint),
    call: (addr, proto, ...args) => koffi.call(addr, proto, ...args),
    proto: (signature) => koffi.proto(signature),
  };
}

/** The libc bindings, made on first use. Throws EPLATFORM where they cannot exist. */
export function getLibc(): Libc {
  libc ??= bind();
  return libc;
}

/** Throws ELIBC with errno's text when a libc call reported failure. */
export function libcFailure(what: string): DlbindError {
  const c = getLibc();
  const e = c.errno();
  return new DlbindError('ELIBC', `${what} failed: ${c.strerror(e)} (errno ${e})`);
}

/** glibc's version as [major, minor], from gnu_get_libc_version(). */
export function glibcVersion(): [number, number] {
  const [major, minor] = getLibc()
    .gnu_get_libc_version()
    .split('.')
    .map((x) => Number.parseInt(x, 10));
  return [major ?? 0, minor ?? 0];
}
