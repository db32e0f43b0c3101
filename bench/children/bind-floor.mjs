// Figure 1's JS floor: node bench/children/bind-floor.mjs COUNT NBUCKETS BLOOM_WORDS BLOOM_SHIFT [WARM_UP]
// The table stores of bench/c/bind.c (the C reference), line for line in plain JavaScript over
// typed arrays, with no library around them: the GNU hash while the name's bytes are copied,
// the duplicate check (bloom bits first, the chain only when both are set), the Elf64_Sym words,
// the hash word with its end bit, the bloom bits, the publishing store, a full run copied to a
// fresh one with tombstones. Times the first COUNT binds of a fresh process ('jit_obj_<i>', made
// before the clock starts, as figure 1's cold row makes them) and prints the seconds. What
// JavaScript costs for the same work before V8 has compiled it: the floor under any bind path.
// With WARM_UP, the same stores first bind WARM_UP other names into tables of their own, untimed,
// and the COUNT binds then go into fresh tables (fresh pages, as the C reference's warm library
// has): the floor under the warm goal, once V8 has compiled the stores.
const [count, nbuckets, bloomWords, bloomShift, warmUp = 0] = process.argv.slice(2).map(Number);
const FIRST_RUN = 4;
const TOMBSTONE_INFO = 0x14; // STB_GLOBAL, STT_FILE
const OBJECT_INFO = 0x11; // STB_GLOBAL, STT_OBJECT
const bloomMask = bloomWords - 1;
let slots;
let strings;
let symU32;
let symBytes;
let chain;
let buckets;
let bloom;
let runStart;
let runCap;
let runUsed;
let strNext;
let nextFresh;
let highWater;

/** Fresh, empty tables for `binds` binds. */
function freshTables(binds) {
  slots = 4 * binds + 1024;
  strings = new Uint8Array(16 * binds + 4096);
  symU32 = new Uint32Array(6 * slots);
  symBytes = new Uint8Array(symU32.buffer);
  chain = new Uint32Array(slots);
  buckets = new Uint32Array(nbuckets);
  bloom = new Uint32Array(2 * bloomWords);
  runStart = new Uint32Array(nbuckets);
  runCap = new Uint32Array(nbuckets);
  runUsed = new Uint32Array(nbuckets);
  strNext = 1;
  nextFresh = 1;
  highWater = 0;
}

function sameName(at, name, n) {
  for (let k = 0; k < n; k++) if (strings[at + k] !== strings[name + k]) return false;
  return strings[at + n] === 0;
}

function addToBloom(h) {
  const w = ((h >>> 6) & bloomMask) * 2;
  const b1 = h & 63;
  const b2 = (h >>> bloomShift) & 63;
  bloom[w + (b1 >>> 5)] |= 1 << (b1 & 31);
  bloom[w + (b2 >>> 5)] |= 1 << (b2 & 31);
}

function writeSym(at, name, value) {
  const w = at * 6;
  symU32[w] = name;
  symU32[w + 1] = OBJECT_INFO;
  symU32[w + 2] = value >>> 0;
  symU32[w + 3] = (value / 4294967296) | 0;
  symU32[w + 4] = 8;
  symU32[w + 5] = 0;
}

function copyRun(b, h, name, value) {
  const start = runStart[b];
  const used = start === 0 ? 0 : runUsed[b];
  const live = used + 1;
  let cap = FIRST_RUN;
  while (2 * cap < 3 * live + 2) cap *= 2;
  if (nextFresh + cap > slots) throw new Error('the symbol table is full');
  const fresh = nextFresh;
  nextFresh += cap;
  highWater = nextFresh * 24;
  for (let i = fresh; i < fresh + cap; i++) {
    chain[i - 1] = 1;
    symBytes[i * 24 + 4] = TOMBSTONE_INFO;
  }
  for (let k = 0; k < used; k++) {
    const to = (fresh + k) * 6;
    const from = (start + k) * 6;
    for (let j = 0; j < 6; j++) symU32[to + j] = symU32[from + j];
    chain[fresh + k - 1] = chain[start + k - 1] & ~1;
  }
  writeSym(fresh + used, name, value);
  chain[fresh + used - 1] = h | 1;
  addToBloom(h);
  buckets[b] = fresh;
  for (let k = 0; k < used; k++) symBytes[(start + k) * 24 + 4] = TOMBSTONE_INFO;
  runStart[b] = fresh;
  runCap[b] = cap;
  runUsed[b] = live;
}

function bind(s, value) {
  const name = strNext;
  const n = s.length;
  let h = 5381;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    strings[name + i] = c;
    h = (Math.imul(h, 33) + c) | 0;
  }
  strings[name + n] = 0;
  const hash = h >>> 0;
  const b = hash % nbuckets;
  const start = runStart[b];
  const used = runUsed[b];
  const w = ((hash >>> 6) & bloomMask) * 2;
  const b1 = hash & 63;
  const b2 = (hash >>> bloomShift) & 63;
  if ((bloom[w + (b1 >>> 5)] & (1 << (b1 & 31))) !== 0 && (bloom[w + (b2 >>> 5)] & (1 << (b2 & 31))) !== 0)
    for (let i = start; i < start + used; i++)
      if (chain[i - 1] >>> 1 === hash >>> 1 && symBytes[i * 24 + 4] !== TOMBSTONE_INFO && sameName(symU32[i * 6], name, n))
        throw new Error(`already bound: ${s}`);
  strNext += n + 1;
  if (start === 0 || used === runCap[b]) {
    copyRun(b, hash, name, value);
    return;
  }
  const at = start + used;
  writeSym(at, name, value);
  chain[at - 1] = hash | 1;
  addToBloom(hash);
  chain[at - 2] &= ~1;
  runUsed[b] = used + 1;
}

if (warmUp > 0) {
  freshTables(warmUp);
  const warmNames = Array.from({ length: warmUp }, (_, i) => `warm_obj_${i}`);
  for (let i = 0; i < warmUp; i++) bind(warmNames[i], 4096 + 8 * i);
}
freshTables(count);
const names = Array.from({ length: count }, (_, i) => `jit_obj_${i}`);
const t = performance.now();
for (let i = 0; i < count; i++) bind(names[i], 4096 + 8 * i);
const seconds = (performance.now() - t) / 1000;
if (highWater === 0 || strNext < count) throw new Error('nothing was bound');
process.stdout.write(`${seconds}\n`);
