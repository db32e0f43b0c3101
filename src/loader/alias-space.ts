// Address space for the live libraries' writable aliases. A library's alias is
// its backing file mapped MAP_SHARED | MAP_FIXED into a free range of a space
// reserved PROT_NONE, and its `mem` is a subarray of the one view made once
// over the whole space. A deleted library's range goes back to PROT_NONE and
// is reused.
//
// Why one view a space: V8 counts an ArrayBuffer over native memory (a koffi
// view) at its whole length as external memory, and when that grows by some
// 64 MiB it runs a full collection of the whole heap. A view of its own per
// library (hundreds of MiB at the default capacity) cost every dlcreate one.
//
// Why a WebAssembly memory where there is one: even one view set off that
// collection at the first dlcreate, and its cost is the caller's heap's. Beside
// a million live objects the first dlcreate took 135 ms, 109 of them in the
// collection (387 ms of 408 beside three million; 6 of 24 in a bare process).
// A shared WebAssembly memory's buffer is a SharedArrayBuffer, which V8 leaves
// out of that count. Its pages are remapped PROT_NONE at once, so it is address
// space only, as the plain reservation is, and the aliases go into it the same
// way. Where such a memory cannot be made (node --jitless, ulimit -v, a library
// larger than 4 GiB), the space is a plain reservation with a koffi view.
import { DlbindError } from './errors.js';
import { MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PROT_NONE, getLibc, libcFailure } from './libc.js';
import { randomWord } from './random.js';
import { MAX_OBJECT_BYTES } from './zygote.js';

/** One reserved space and its view. */
export interface AliasSpace {
  base: bigint;
  /** Its length in bytes. */
  bytes: number;
  view: Uint8Array;
  /** The WebAssembly memory whose buffer `view` is, kept alive with the space (undefined: a plain reservation of our own). */
  memory: object | undefined;
  /** Free ranges [offset, length], by offset. */
  free: [number, number][];
  users: number;
}

/** A range of a space, as an alias holds it. */
export interface AliasRange {
  space: AliasSpace;
  offset: number;
}

const spaces: AliasSpace[] = [];

/** The most a WebAssembly memory holds (65,536 pages of 64 KiB). */
const WASM_MEMORY_BYTES = 65536 * 65536;
/** Whether spaces may be WebAssembly memories (tests turn it off to show what the plain view costs). */
let wasmSpaces = true;

/** Lets alias spaces be WebAssembly memories (the default) or only plain reservations with a koffi view; for tests. */
export function setWasmAliasSpaces(enabled: boolean): void {
  wasmSpaces = enabled;
}

/** How the spaces reserved so far are made, for tests: 'wasm' or 'view' each. */
export function aliasSpaceKinds(): ('wasm' | 'view')[] {
  return spaces.map((s) => (s.memory === undefined ? 'view' : 'wasm'));
}

/** A page-aligned address somewhere in the upper user address space, so the alias is not at a fixed distance from the text. */
function randomHint(pageSize: number): bigint {
  const r = randomWord();
  return (0x2000_0000_0000n + BigInt(r) * BigInt(pageSize)) & ~BigInt(pageSize - 1);
}

interface WasmMemoryApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { readonly buffer: ArrayBufferLike };
}

/** A shared WebAssembly memory of `bytes` remapped PROT_NONE, or undefined where one cannot be made or its pages found. */
function wasmSpace(bytes: number, page: number): AliasSpace | undefined {
  const api = (globalThis as { WebAssembly?: WasmMemoryApi }).WebAssembly;
  if (!wasmSpaces || api === undefined || bytes % 65536 !== 0 || 65536 % page !== 0) return undefined;
  let memory: { readonly buffer: ArrayBufferLike };
  try {
    memory = new api.Memory({ initial: bytes / 65536, maximum: bytes / 65536, shared: true });
  } catch {
    // --jitless has no WebAssembly.Memory; ulimit -v or overcommit limits refuse its reservation.
    return undefined;
  }
  const view = new Uint8Array(memory.buffer);
  if (view.length !== bytes) return undefined;
  const c = getLibc();
  const base = c.addressOf(view);
  // V8 committed these pages readable and writable: nothing may reach them but an alias.
  if (base === 0n || base % BigInt(page) !== 0n) return undefined;
  // Should the remapping fail, the memory is dropped (V8 unmaps it) and a plain reservation serves.
  if (c.mmap(base, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) !== base) return undefined;
  return { base, bytes, view, memory, free: [[0, bytes]], users: 0 };
}

/** A plain PROT_NONE reservation of MAX_OBJECT_BYTES with one koffi view over it. */
function viewSpace(page: number): AliasSpace {
  const c = getLibc();
  const base = c.mmap(randomHint(page), MAX_OBJECT_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base === MAP_FAILED || base === 0n) throw libcFailure('mmap reserving address space for writable aliases');
  return { base, bytes: MAX_OBJECT_BYTES, view: new Uint8Array(c.view(base, MAX_OBJECT_BYTES)), memory: undefined, free: [[0, MAX_OBJECT_BYTES]], users: 0 };
}

function reserve(need: number, page: number): AliasSpace {
  const space = (need <= WASM_MEMORY_BYTES ? wasmSpace(Math.min(WASM_MEMORY_BYTES, MAX_OBJECT_BYTES), page) : undefined) ?? viewSpace(page);
  spaces.push(space);
  return space;
}

/** A page-aligned range of `need` bytes in `space`, or undefined when it has no free range that long. */
function takeIn(space: AliasSpace, need: number, page: number): AliasRange | undefined {
  const i = space.free.findIndex(([, length]) => length >= need);
  if (i < 0) return undefined;
  // A random place in the free range, so that no alias sits at a distance from its text
  // that another library's gives away (nor at the same distance in every process: qemu-user,
  // for one, ignores the reservation's address hint).
  const [start, length] = space.free[i]!;
  const offset = start + (randomWord() % ((length - need) / page + 1)) * page;
  const pieces: [number, number][] = [];
  if (offset > start) pieces.push([start, offset - start]);
  if (offset + need < start + length) pieces.push([offset + need, start + length - offset - need]);
  space.free.splice(i, 1, ...pieces);
  space.users++;
  return { space, offset };
}

/** A page-aligned range of `size` bytes in some alias space (reserving another space when none has room). */
export function takeAliasRange(size: number, page: number): AliasRange {
  const need = Math.ceil(size / page) * page;
  for (const space of spaces) {
    const range = takeIn(space, need, page);
    if (range !== undefined) return range;
  }
  const range = takeIn(reserve(need, page), need, page);
  if (range === undefined) throw new DlbindError('EINVAL', `a library of ${need} bytes is larger than an alias space (${MAX_OBJECT_BYTES} bytes)`);
  return range;
}

/** Puts the range back to PROT_NONE and into its space's free list, merged with its neighbours. */
export function giveBackAliasRange(range: AliasRange, size: number, page: number): boolean {
  const { space, offset } = range;
  const need = Math.ceil(size / page) * page;
  const c = getLibc();
  const at = space.base + BigInt(offset);
  if (c.mmap(at, need, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) !== at) return false;
  const free = space.free;
  let i = 0;
  while (i < free.length && free[i]![0] < offset) i++;
  free.splice(i, 0, [offset, need]);
  if (i + 1 < free.length && free[i]![0] + free[i]![1] === free[i + 1]![0]) {
    free[i]![1] += free[i + 1]![1];
    free.splice(i + 1, 1);
  }
  if (i > 0 && free[i - 1]![0] + free[i - 1]![1] === free[i]![0]) {
    free[i - 1]![1] += free[i]![1];
    free.splice(i, 1);
  }
  space.users--;
  // Keep one empty space for the next library; give the others back. A WebAssembly memory's
  // pages are V8's to unmap, once nothing holds the memory (all of them PROT_NONE now).
  if (space.users === 0 && spaces.some((s) => s !== space && s.users === 0)) {
    spaces.splice(spaces.indexOf(space), 1);
    if (space.memory === undefined) c.munmap(space.base, space.bytes);
  }
  return true;
}
