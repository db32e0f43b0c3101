// Telling a debugger that a live library's symbols changed.
//
// gdb reads a shared object's symbols from its file when the object appears
// in ld.so's link map, and only then. So we make the object leave and come
// back: take its link_map out of _r_debug's list and call the r_brk hook
// (_dl_debug_state) with RT_DELETE then RT_CONSISTENT, put it back and call
// it with RT_ADD then RT_CONSISTENT. gdb then drops the library and reads its
// file again, which already holds every symbol (all writes go through the
// shared mapping). The list surgery runs inside a dl_iterate_phdr callback,
// which holds ld.so's load-write lock, so no dlopen/dlclose on another thread
// can walk or edit the list at the same moment.
import { futimesSync, readFileSync, writeFileSync } from 'node:fs';
import { type KoffiFunction, type KoffiType, getLibc } from './libc.js';

// struct r_debug (64-bit): int r_version; struct link_map *r_map; ElfW(Addr) r_brk; int r_state; ElfW(Addr) r_ldbase;
const R_BRK = 16;
const R_STATE = 24;
const RT_CONSISTENT = 0;
const RT_ADD = 1;
const RT_DELETE = 2;
// struct link_map: l_addr, l_name, l_ld, l_next, l_prev
const L_NEXT = 24;
const L_PREV = 32;

interface Rendezvous {
  /** struct r_debug itself, through one view kept for the process's life. */
  words: DataView;
  /** Whether a breakpoint instruction sits at r_brk right now: then a debugger is listening. */
  breakpointAtBrk: () => boolean;
  callBrk: () => void;
  iterate: (cb: () => void) => void;
}

let rendezvous: Rendezvous | undefined | null;

function getRendezvous(): Rendezvous | undefined {
  if (rendezvous !== undefined) return rendezvous ?? undefined;
  const c = getLibc();
  const koffi = c.koffi;
  const rDebug = c.dlsym(0n, '_r_debug');
  if (rDebug === 0n) {
    rendezvous = null;
    return undefined;
  }
  // The types and the function an announcement calls through are made at the first announcement, not here:
  // every library's first bind asks for the rendezvous, and koffi's type parsing is dear while no debugger listens.
  // Anonymous types: koffi's type names are process-wide, shared with any other copy of dlbind loaded (ESM and CommonJS).
  let calls: { voidProto: KoffiType; callbackProto: KoffiType; dlIteratePhdr: KoffiFunction } | undefined;
  const announcementCalls = () => {
    if (calls === undefined) {
      const callbackProto = koffi.proto('int (void *info, size_t size, void *data)');
      calls = {
        voidProto: c.proto('void ()'),
        callbackProto,
        dlIteratePhdr: koffi.load('libc.so.6').func('dl_iterate_phdr', 'int', [koffi.pointer(callbackProto), 'void *']),
      };
    }
    return calls;
  };
  // A debugger that follows the link map plants a software breakpoint on r_brk
  // (gdb: int3 on x86_64, brk #0 on aarch64) for as long as it is attached.
  // Reading that code word is far cheaper than asking /proc who traces us.
  const rDebugWords = new DataView(c.view(rDebug, 32));
  // r_brk as two 32-bit halves, so that the per-bind test makes no bigint.
  const rBrk = new Uint32Array(rDebugWords.buffer, rDebugWords.byteOffset + R_BRK, 2);
  let brkLow = 0;
  let brkHigh = 0;
  let brkCode: Uint32Array | undefined;
  const arm = process.arch === 'arm64';
  rendezvous = {
    words: rDebugWords,
    breakpointAtBrk: () => {
      const low = rBrk[0]!;
      const high = rBrk[1]!;
      if (low === 0 && high === 0) return false;
      if (low !== brkLow || high !== brkHigh || brkCode === undefined) {
        brkLow = low;
        brkHigh = high;
        brkCode = new Uint32Array(c.view((BigInt(high) << 32n) | BigInt(low), 4));
      }
      const code = brkCode[0]!;
      return arm ? code === 0xd4200000 : (code & 0xff) === 0xcc;
    },
    callBrk: () => {
      // r_brk is re-read each time: ld.so may set it late on some versions.
      const now = rDebugWords.getBigUint64(R_BRK, true);
      if (now !== 0n) c.call(now, announcementCalls().voidProto);
    },
    iterate: (cb) => {
      const { callbackProto, dlIteratePhdr } = announcementCalls();
      let error: unknown;
      const trampoline = koffi.register(() => {
        try {
          cb();
        } catch (err) {
          error = err;
        }
        return 1; // stop after the first object: we only wanted the lock
      }, koffi.pointer(callbackProto));
      try {
        dlIteratePhdr(trampoline, null);
      } finally {
        koffi.unregister(trampoline);
      }
      if (error !== undefined) throw error;
    },
  };
  return rendezvous;
}

/**
 * Whether a debugger is watching the link map: a breakpoint on r_brk, where
 * gdb and lldb put one. Without a rendezvous, any ptrace tracer counts.
 */
export function debuggerListening(): boolean {
  const r = getRendezvous();
  return r !== undefined ? r.breakpointAtBrk() : tracerAttached();
}

/** Whether a debugger (any ptrace tracer) is attached to this process right now. */
export function tracerAttached(): boolean {
  try {
    const m = /^TracerPid:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && m[1] !== '0';
  } catch {
    return false;
  }
}

let lastMtime = 0;

/**
 * Gives each backing file a modification time it never had before. lldb keeps
 * a module, and gdb's BFD cache an open file, until the file's mtime (or size)
 * changes; stores through a shared mapping update a memfd's mtime only at a
 * page's first write fault, so a symbol bound later into a page already
 * written would leave the old module in place. The kernel's file clock is
 * coarse (a tick), so the time is forced forward by at least a microsecond.
 */
export function touchFiles(fds: readonly number[]): void {
  if (fds.length === 0) return;
  const now = Date.now() / 1000;
  lastMtime = Math.max(now, lastMtime + 1e-6);
  for (const fd of fds) {
    try {
      futimesSync(fd, lastMtime, lastMtime);
    } catch {
      // A file we cannot touch is still announced: gdb rereads it anyway.
    }
  }
}

/**
 * Makes the debugger drop and re-read the objects whose link_maps are given,
 * after moving their files' mtime forward (`fds`, see touchFiles).
 * Returns false when this ld.so offers no rendezvous (then nothing was done).
 */
export function reannounce(linkMaps: readonly bigint[], fds: readonly number[] = []): boolean {
  const r = getRendezvous();
  if (r === undefined || linkMaps.length === 0) return r !== undefined;
  touchFiles(fds);
  const c = getLibc();
  const word = (addr: bigint) => new DataView(c.view(addr, 8));
  const setState = (state: number) => r.words.setInt32(R_STATE, state, true);
  r.iterate(() => {
    const unlinked: { map: bigint; prev: bigint; next: bigint }[] = [];
    for (const map of linkMaps) {
      const prev = word(map + BigInt(L_PREV)).getBigUint64(0, true);
      const next = word(map + BigInt(L_NEXT)).getBigUint64(0, true);
      // The main program heads the list and is never one of ours; refuse anything odd.
      if (prev === 0n) continue;
      word(prev + BigInt(L_NEXT)).setBigUint64(0, next, true);
      if (next !== 0n) word(next + BigInt(L_PREV)).setBigUint64(0, prev, true);
      unlinked.push({ map, prev, next });
    }
    if (unlinked.length === 0) return;
    setState(RT_DELETE);
    r.callBrk();
    setState(RT_CONSISTENT);
    r.callBrk();
    // Relink in reverse order, restoring each map's own links too: when two
    // neighbours were unlinked, the first unlink rewrote the second's l_prev.
    for (let i = unlinked.length - 1; i >= 0; i--) {
      const { map, prev, next } = unlinked[i]!;
      word(map + BigInt(L_PREV)).setBigUint64(0, prev, true);
      word(map + BigInt(L_NEXT)).setBigUint64(0, next, true);
      word(prev + BigInt(L_NEXT)).setBigUint64(0, map, true);
      if (next !== 0n) word(next + BigInt(L_PREV)).setBigUint64(0, map, true);
    }
    setState(RT_ADD);
    r.callBrk();
    setState(RT_CONSISTENT);
    r.callBrk();
  });
  return true;
}

// /proc/<pid>/coredump_filter bits: MMF_DUMP_ANON_SHARED, MMF_DUMP_MAPPED_SHARED.
const DUMP_ANON_SHARED = 0x2;
const DUMP_MAPPED_SHARED = 0x8;
let coreBits = 0;

/**
 * Makes the kernel dump a library's writable shared alias in full, so that a
 * core file holds the whole object (`dlbind core` reads it from there): ld.so's
 * own text mapping is private and never written, and a core leaves it out. An
 * unlinked memfd counts as shared anonymous memory (dumped by default); a
 * backing file is file-backed shared memory, which the default filter (0x33)
 * leaves out. Only ever adds bits; failures (no /proc) change nothing.
 */
export function keepAliasInCores(fileBacked: boolean): void {
  const want = DUMP_ANON_SHARED | (fileBacked ? DUMP_MAPPED_SHARED : 0);
  if ((coreBits & want) === want) return;
  try {
    const now = Number.parseInt(readFileSync('/proc/self/coredump_filter', 'utf8').trim(), 16);
    if (Number.isNaN(now)) return;
    if ((now & want) !== want) writeFileSync('/proc/self/coredump_filter', `0x${(now | want).toString(16)}`);
    coreBits = now | want;
  } catch {
    coreBits |= want; // no /proc here, or not writable: nothing to gain by trying again
  }
}

/** When a library tells debuggers about symbol changes (dlcreate's `debug` option): 'auto' while one listens, 'always', or 'off'. */
export type DebugMode = 'auto' | 'always' | 'off';

/** Something whose symbols changed and that can name its link_map. */
export interface Announceable {
  readonly debugMode: DebugMode;
  /** Set while the object waits in the pending set, so that marking it again costs one test. */
  announceQueued: boolean;
  /** The link_map, or undefined once the object is gone. */
  announceLinkMap(): bigint | undefined;
  /** The backing file's descriptor, whose mtime each announcement moves; undefined once the object is gone. */
  announceFd(): number | undefined;
}

const pending = new Set<Announceable>();
let scheduled = false;
/** Set while something is pending and a debugger listens: the next call through dlfunc, or the next microtask checkpoint, announces it. */
let urgent = false;

/**
 * Notes that an object's symbols changed. While a debugger listens at r_brk
 * the change is announced before any code can run it from JavaScript: before
 * the next call through dlfunc/func (see announceBeforeCall), and at the end
 * of the current synchronous run of JavaScript (a microtask), so before
 * control returns to the event loop. Binds in one synchronous run share one
 * announcement: a debugger rereads the whole file at each, which costs
 * milliseconds. Otherwise ('always' mode, for a debugger that does not listen
 * at r_brk) announcements are batched to once per turn of the event loop.
 */
export function markChanged(obj: Announceable): void {
  if (obj.debugMode === 'off') return;
  if (!obj.announceQueued) {
    obj.announceQueued = true;
    pending.add(obj);
  }
  // The per-bind test: whether a breakpoint sits at r_brk, from one code byte (word) read through a
  // view kept between calls. False without a rendezvous: there is then nobody to announce to at once.
  const r = rendezvous === undefined ? getRendezvous() : rendezvous;
  if (!urgent && r != null && r.breakpointAtBrk()) {
    urgent = true;
    queueMicrotask(announceBeforeCall);
  }
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAnnouncements).unref();
  }
}

/** Announces what changed while a debugger listens, before code may run it. One test when nothing is pending. */
export function announceBeforeCall(): void {
  if (!urgent) return;
  urgent = false;
  flushAnnouncements();
}

export function forget(obj: Announceable): void {
  obj.announceQueued = false;
  pending.delete(obj);
}

/**
 * Announces every pending change now. In 'auto' mode nothing is done unless a
 * debugger is listening at r_brk: one that attaches later reads the files as they are.
 * Returns how many objects were announced.
 */
export function flushAnnouncements(only?: Announceable): number {
  scheduled = only === undefined ? false : scheduled;
  const targets = only === undefined ? [...pending] : pending.has(only) ? [only] : [];
  for (const t of targets) {
    pending.delete(t);
    t.announceQueued = false;
  }
  const traced = targets.some((t) => t.debugMode === 'auto') ? debuggerListening() : false;
  const maps: bigint[] = [];
  const fds: number[] = [];
  for (const t of targets) {
    if (t.debugMode === 'always' || (t.debugMode === 'auto' && traced)) {
      const m = t.announceLinkMap();
      const fd = t.announceFd();
      if (m !== undefined) maps.push(m);
      if (fd !== undefined) fds.push(fd);
    }
  }
  if (maps.length > 0) reannounce(maps, fds);
  return maps.length;
}
