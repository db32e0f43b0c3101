// perf's jitdump format, so that `perf inject --jit` can name JIT functions.
// perf's /tmp/perf-<pid>.map only covers anonymous executable memory; a live
// library is a file-backed mapping of a memfd that perf cannot open later, so
// each function bound is also written as a JIT_CODE_LOAD record (name, address
// and a copy of its bytes), and the dump file is mapped PROT_EXEC once so that
// perf record sees its path in an mmap event. Format: tools/perf/util/jitdump.h.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { EM_AARCH64, EM_X86_64 } from '../elf/constants.js';
import { utf8Bytes } from '../elf/bytes.js';
import { MAP_FAILED, MAP_PRIVATE, PROT_EXEC, PROT_READ, getLibc, libcFailure } from './libc.js';
import type { LoaderArch } from './platform.js';

const JITHEADER_MAGIC = 0x4a695444; // "JiTD" read as a little-endian u32
const JITHEADER_VERSION = 1;
const JITHEADER_SIZE = 40;
const JIT_CODE_LOAD = 0;
const JIT_CODE_CLOSE = 3;
const CODE_LOAD_FIXED = 16 + 8 + 8 * 4; // prefix + pid/tid + vma, code_addr, code_size, code_index

/** CLOCK_MONOTONIC in ns: what `perf record -k mono` stamps samples with (libuv's hrtime reads it). */
function timestamp(): bigint {
  return process.hrtime.bigint();
}

export class JitDump {
  readonly path: string;
  private fd: number;
  private marker = 0n;
  private codeIndex = 0n;
  private readonly pageSize: number;

  constructor(directory: string, arch: LoaderArch) {
    mkdirSync(directory, { recursive: true });
    this.path = join(directory, `jit-${process.pid}.dump`);
    this.pageSize = arch === 'aarch64' ? 65536 : 4096;
    // perf opens the file by name from the mmap event; the mapping needs read access to the fd.
    this.fd = openSync(this.path, 'w+', 0o600);
    const h = Buffer.alloc(JITHEADER_SIZE);
    h.writeUInt32LE(JITHEADER_MAGIC, 0); // magic
    h.writeUInt32LE(JITHEADER_VERSION, 4); // version
    h.writeUInt32LE(JITHEADER_SIZE, 8); // total_size
    h.writeUInt32LE(arch === 'aarch64' ? EM_AARCH64 : EM_X86_64, 12); // elf_mach
    h.writeUInt32LE(0, 16); // pad1
    h.writeUInt32LE(process.pid, 20); // pid
    h.writeBigUInt64LE(timestamp(), 24); // timestamp
    h.writeBigUInt64LE(0n, 32); // flags
    writeSync(this.fd, h);
    const c = getLibc();
    // The marker: an executable, read-only, private mapping of the dump itself. It is never written through.
    const at = c.mmap(0n, this.pageSize, PROT_READ | PROT_EXEC, MAP_PRIVATE, this.fd, 0);
    if (at === MAP_FAILED || at === 0n) {
      closeSync(this.fd);
      throw libcFailure('mmap of the jitdump marker');
    }
    this.marker = at;
  }

  /** Records that `code` now lives at `address` under `name`. */
  codeLoad(name: string, address: bigint, code: Uint8Array): void {
    const nameBytes = utf8Bytes(name);
    const total = CODE_LOAD_FIXED + nameBytes.length + 1 + code.length;
    const r = Buffer.alloc(total);
    r.writeUInt32LE(JIT_CODE_LOAD, 0); // id
    r.writeUInt32LE(total, 4); // total_size
    r.writeBigUInt64LE(timestamp(), 8); // timestamp
    r.writeUInt32LE(process.pid, 16); // pid
    r.writeUInt32LE(process.pid, 20); // tid (the main thread: a JitLibrary lives in one isolate)
    r.writeBigUInt64LE(address, 24); // vma
    r.writeBigUInt64LE(address, 32); // code_addr
    r.writeBigUInt64LE(BigInt(code.length), 40); // code_size
    r.writeBigUInt64LE(this.codeIndex++, 48); // code_index
    r.set(nameBytes, 56); // name, NUL-terminated
    r.set(code, 56 + nameBytes.length + 1); // the code itself, for perf annotate
    writeSync(this.fd, r);
  }

  close(): void {
    if (this.fd < 0) return;
    const r = Buffer.alloc(16);
    r.writeUInt32LE(JIT_CODE_CLOSE, 0);
    r.writeUInt32LE(16, 4);
    r.writeBigUInt64LE(timestamp(), 8);
    writeSync(this.fd, r);
    getLibc().munmap(this.marker, this.pageSize);
    closeSync(this.fd);
    this.fd = -1;
  }
}

let shared: JitDump | undefined;
let users = 0;

/** The process's one jitdump file (perf expects exactly jit-<pid>.dump), opened on first use. */
export function acquireJitDump(directory: string, arch: LoaderArch): JitDump {
  shared ??= new JitDump(directory, arch);
  users++;
  return shared;
}

export function releaseJitDump(): void {
  if (--users === 0 && shared !== undefined) {
    shared.close();
    shared = undefined;
  }
}

/**
 * DLBIND_PERF: the jitdump switched on from outside, for every library of a
 * process whose code cannot change. '1' writes it in the current directory,
 * any other value except '' and '0' names the directory. Ignored in worker
 * threads (the dump is one file per process, written by the main thread).
 */
export function perfFromEnvironment(): { directory: string } | undefined {
  const v = process.env.DLBIND_PERF;
  if (v === undefined || v === '' || v === '0' || !isMainThread) return undefined;
  return { directory: v === '1' ? process.cwd() : resolve(v) };
}

/**
 * DLBIND_BACKING_DIR: every library without a `backing` option gets a backing
 * file in this directory (a tmpfs such as /dev/shm keeps it in memory), so
 * that profilers that open mapped files by name (perf top, perf report after
 * perf record -p) can read its symbols while the process runs.
 */
export function backingFromEnvironment(): { directory: string } | undefined {
  const v = process.env.DLBIND_BACKING_DIR;
  return v === undefined || v === '' ? undefined : { directory: v };
}
