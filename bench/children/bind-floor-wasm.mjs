// Figure 1's WebAssembly floor: node bench/children/bind-floor-wasm.mjs COUNT NBUCKETS BLOOM_WORDS BLOOM_SHIFT MODE [WARM_UP]
// The C reference's table stores (bench/c/bind.c) in a WebAssembly module (bind-floor.wat, compiled
// by wabt before the clock starts), called once a bind from JavaScript, in a fresh process; the
// tables are shaped as the C reference's cold library, in the module's own memory. It asks what
// the cold goal leaves if a bind's stores ran in code compiled before its first call, as the
// offline writer's kernels do (src/elf/kernels.wat). MODE:
//   stores  the name's bytes go in by Buffer#latin1Write, then one call of the module's bind;
//   api     the same behind the least a public bind must do in JavaScript: check its library, name,
//           bigint address (inside the library) and size, turn the address into an offset, and keep
//           the name and an id for the symbol.
// Prints the seconds of the first COUNT binds ('jit_obj_<i>', made before the clock starts). With
// WARM_UP, WARM_UP other names are bound first, untimed, into tables of their own in the same
// memory, so that the JavaScript around the calls is compiled; the COUNT binds then go into fresh
// tables (pages never touched).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const [count, nbuckets, bloomWords, bloomShift] = process.argv.slice(2, 6).map(Number);
const mode = process.argv[6];
const warmUp = Number(process.argv[7] ?? 0);
if (mode !== 'stores' && mode !== 'api') throw new Error(`mode must be stores or api, got ${mode}`);
const wabt = await wabtInit();
const wat = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'bind-floor.wat'), 'utf8');
const parsed = wabt.parseWat('bind-floor.wat', wat, { bulk_memory: true });
parsed.validate();
const { instance } = await WebAssembly.instantiate(parsed.toBinary({}).buffer);
const wasm = instance.exports;

let end = 65536;
const take = (bytes) => {
  const at = end;
  end += (bytes + 63) & ~63;
  return at;
};
const scratch = take(4096);
/** Fresh, empty tables for `binds` binds, past any the module used before. */
function freshTables(binds) {
  const slots = 4 * binds + 1024;
  const strings = take(16 * binds + 4096);
  const sym = take(24 * slots);
  const chain = take(4 * slots);
  const buckets = take(4 * nbuckets);
  const bloom = take(8 * bloomWords);
  const runStart = take(4 * nbuckets);
  const runCap = take(4 * nbuckets);
  const runUsed = take(4 * nbuckets);
  if (end > wasm.mem.buffer.byteLength) wasm.mem.grow(Math.ceil((end - wasm.mem.buffer.byteLength) / 65536));
  wasm.init(strings, sym, chain, buckets, bloom, runStart, runCap, runUsed, nbuckets, bloomWords - 1, bloomShift, slots);
  return Buffer.from(wasm.mem.buffer);
}
let memory;

function bindStores(name, value) {
  const n = memory.latin1Write(name, scratch);
  if (wasm.bind(scratch, n, value) !== 0) throw new Error(`bind failed: ${name}`);
}

class Library {
  base = 0x7f0000000000n;
  size = 1n << 30n;
  names = [undefined];
  deleted = false;
  constructor(binds) {
    this.ids = new Int32Array(binds + 1);
  }
}
function bindApi(library, name, addr, size) {
  if (!(library instanceof Library) || library.deleted) throw new Error('not a live library');
  if (typeof name !== 'string' || name.length === 0 || name.length > 4000) throw new TypeError('bad name');
  if (typeof addr !== 'bigint') throw new TypeError('the address must be a bigint');
  const offset = addr - library.base;
  if (offset < 0n || offset >= library.size) throw new RangeError('the address is outside the library');
  if (!Number.isSafeInteger(size) || size <= 0) throw new TypeError('bad size');
  const n = memory.latin1Write(name, scratch);
  if (wasm.bind(scratch, n, Number(offset)) !== 0) throw new Error(`bind failed: ${name}`);
  const id = library.names.length;
  library.names.push(name);
  library.ids[id] = id;
  return id;
}

/** Binds `names` through the mode's path; returns the library they went to. */
function bindAll(names, count) {
  const library = new Library(count);
  const addrs = names.map((_, i) => library.base + BigInt(4096 + 8 * i));
  const t = performance.now();
  if (mode === 'stores') for (let i = 0; i < count; i++) bindStores(names[i], 4096 + 8 * i);
  else for (let i = 0; i < count; i++) bindApi(library, names[i], addrs[i], 8);
  return { library, seconds: (performance.now() - t) / 1000 };
}

if (warmUp > 0) {
  memory = freshTables(warmUp);
  bindAll(
    Array.from({ length: warmUp }, (_, i) => `warm_obj_${i}`),
    warmUp,
  );
}
memory = freshTables(count);
const names = Array.from({ length: count }, (_, i) => `jit_obj_${i}`);
const { library, seconds } = bindAll(names, count);
if (library.names.length !== (mode === 'api' ? count + 1 : 1) || wasm.bind(scratch, memory.latin1Write(names[0], scratch), 0) !== -1)
  throw new Error('the binds did not take');
process.stdout.write(`${seconds}\n`);
