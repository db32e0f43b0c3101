// `dlbind core <corefile>`: the live JIT libraries of a crashed process, from
// its core file alone. Each library's image comes from its writable shared
// alias (dumped in full); it is written out as a .so, with the gdb commands
// that load it at its load base, and the faulting frame is named.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type CoreFile, type CoreJitLibrary, type CoreSource, findJitLibraries, readCore, symbolizeInLibrary } from '../elf/core.js';
import { CliError, describeSystemError } from './errors.js';

const SIGNALS: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV', 31: 'SIGSYS' };

/** A core read on demand: cores of Node processes run to hundreds of megabytes. */
function fileSource(fd: number): CoreSource {
  const size = fstatSync(fd).size;
  return {
    size,
    read: (offset, length) => {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      if (done < length) throw new CliError(`the core ends at ${offset + done}, inside data it describes (truncated core?)`);
      return new Uint8Array(buf.buffer, buf.byteOffset, length);
    },
  };
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Writes `bytes` leaving holes where whole 64 KiB runs are zero: a zygote is mostly reserved, never-written room. */
function writeSparse(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    const CHUNK = 65536;
    for (let at = 0; at < bytes.length; at += CHUNK) {
      const chunk = bytes.subarray(at, Math.min(at + CHUNK, bytes.length));
      if (chunk.some((b) => b !== 0)) writeSync(fd, chunk, 0, chunk.length, at);
    }
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

/** How far above the faulting thread's stack pointer to look for return addresses into JIT code. */
const STACK_SCAN_BYTES = 16 * 1024;

/**
 * The words on the faulting thread's stack that point into a JIT function: the
 * return addresses of its callers, most likely, which gdb cannot always find
 * without unwind information. A heuristic, and said to be one.
 */
function stackScan(core: CoreFile, sp: bigint, libraries: { library: CoreJitLibrary }[]): string[] {
  let bytes: Uint8Array | undefined;
  for (let n = STACK_SCAN_BYTES; n >= 8 && bytes === undefined; n >>= 1) bytes = core.read(sp, n);
  if (bytes === undefined) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: string[] = [];
  for (let o = 0; o + 8 <= bytes.length && found.length < 32; o += 8) {
    const word = view.getBigUint64(o, true);
    for (const { library } of libraries) {
      const s = symbolizeInLibrary(library, word);
      if (s !== undefined && s.offset > 0n) found.push(`  sp+${hex(BigInt(o))}: ${hex(word)} ${s.name}+${hex(s.offset)}`);
    }
  }
  return found.length === 0 ? [] : ["JIT code addresses on the faulting thread's stack (likely return addresses of its callers):", ...found];
}

export interface CoreReport {
  core: CoreFile;
  libraries: { library: CoreJitLibrary; path: string }[];
  script: string;
  lines: string[];
}

/** Reads the core at `path`, writes each library's image and a gdb script into `outDir`, and returns the report lines. */
export function runCore(path: string, outDir: string | undefined): CoreReport {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  }
  try {
    const core = readCore(fileSource(fd));
    const found = findJitLibraries(core);
    const dir = resolve(outDir ?? `${path}.dlbind`);
    const lines: string[] = [];
    const fault = core.threads[0];
    const signal = fault === undefined ? '' : `, signal ${fault.signal}${SIGNALS[fault.signal] ? ` (${SIGNALS[fault.signal]})` : ''}`;
    lines.push(`${path}: core of pid ${core.pid}${core.command ? ` (${core.command})` : ''}, ${core.machine}${signal}`);
    if (found.length === 0) {
      lines.push('no live dlbind library in this core');
      return { core, libraries: [], script: '', lines };
    }
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new CliError(`cannot create ${dir}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
    }
    const used = new Set<string>();
    const libraries = found.map((library) => {
      let name = basename(library.soname ?? library.fileName.replace(/^\/memfd:/, '').replace(/ \(deleted\)$/, '')).replace(/[^A-Za-z0-9._+-]/g, '_');
      if (name === '' || name === '.' || name === '..') name = 'library.so';
      if (used.has(name)) name = `${name}@${hex(library.loadBase)}`;
      used.add(name);
      const out = join(dir, name);
      try {
        writeSparse(out, library.image);
      } catch (err) {
        throw new CliError(`cannot write ${out}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
      }
      return { library, path: out };
    });
    lines.push('live dlbind libraries:');
    for (const { library, path: out } of libraries) {
      lines.push(
        `  ${library.linkMapName ?? library.fileName}: ${library.soname ?? '(no soname)'} at ${hex(library.loadBase)}, ${library.symbols.length} symbols, image (from the alias at ${hex(library.aliasStart)}) written to ${out}`,
      );
    }
    for (const [i, t] of core.threads.entries()) {
      for (const { library } of libraries) {
        const s = symbolizeInLibrary(library, t.pc);
        if (s === undefined) continue;
        const where = `${s.name}${s.offset === 0n ? '' : `+${hex(s.offset)}`}`;
        lines.push(`${i === 0 ? 'faulting frame' : `thread ${t.tid}`}: pc ${hex(t.pc)} in ${where} (${library.soname ?? library.fileName})`);
      }
    }
    if (fault !== undefined && !libraries.some(({ library }) => symbolizeInLibrary(library, fault.pc) !== undefined)) {
      lines.push(`faulting frame: pc ${hex(fault.pc)} is not in a JIT library`);
    }
    if (fault !== undefined) lines.push(...stackScan(core, fault.sp, libraries));
    const commands = libraries.map(({ library, path: out }) => `add-symbol-file ${out} -o ${hex(library.loadBase)}`);
    const script = join(dir, 'dlbind.gdb');
    try {
      writeFileSync(script, `set confirm off\n${commands.join('\n')}\n`, { mode: 0o600 });
    } catch (err) {
      throw new CliError(`cannot write ${script}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
    }
    lines.push(`gdb commands (also in ${script}: gdb <program> ${path} -x ${script}):`);
    for (const c of commands) lines.push(`  ${c}`);
    return { core, libraries, script, lines };
  } finally {
    closeSync(fd);
  }
}
