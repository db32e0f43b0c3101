#!/usr/bin/env node
// Before/after of the call wrapper (dlfunc, lib.func): two builds of dlbind in one process,
// their guarded calls interleaved round by round with koffi.call of the same address (the
// anchor), for `int add(int, int)` and `int64_t id(int64_t)`.
//
//   git archive <old commit> src | tar -x -C /tmp/old
//   npx esbuild /tmp/old/src/index.ts --bundle --platform=node --format=esm --external:koffi --outfile=bench/out/old.mjs
//   npx esbuild src/index.ts --bundle --platform=node --format=esm --external:koffi --outfile=bench/out/new.mjs
//   node --expose-gc bench/ab-calls.mjs bench/out/old.mjs bench/out/new.mjs [calls per sample] [rounds]
//
// Prints one JSON line: medians in ns per call, each build's median ratio to the anchor, and
// the median of the per-round new ÷ old ratios.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import koffi from 'koffi';

const [oldPath, newPath, callsArg, roundsArg] = process.argv.slice(2);
if (newPath === undefined) {
  console.error('usage: node --expose-gc bench/ab-calls.mjs OLD.mjs NEW.mjs [calls] [rounds]');
  process.exit(2);
}
const N = Number(callsArg ?? 300_000);
const ROUNDS = Number(roundsArg ?? 15);
const load = (p) => import(pathToFileURL(resolve(p)).href);
const builds = { old: await load(oldPath), new: await load(newPath) };

const arm = process.arch === 'arm64';
const ADD = arm ? [0x00, 0x00, 0x01, 0x0b, 0xc0, 0x03, 0x5f, 0xd6] : [0x8d, 0x04, 0x37, 0xc3];
const ID = arm ? [0xc0, 0x03, 0x5f, 0xd6] : [0x48, 0x89, 0xf8, 0xc3];
const libs = [];
const fns = {};
for (const [name, dl] of Object.entries(builds)) {
  const lib = dl.dlcreate();
  libs.push(lib);
  fns[name] = lib.func(lib.addFunction('add', ADD), 'int add(int a, int b)');
  fns[`${name}64`] = lib.func(lib.addFunction('id', ID), 'int64_t id(int64_t x)');
}
const anchorLib = builds.new.dlcreate();
libs.push(anchorLib);
const add = anchorLib.addFunction('add', ADD);
const id = anchorLib.addFunction('id', ID);
const proto = koffi.proto('int (int, int)');
const proto64 = koffi.proto('int64_t (int64_t)');
fns.raw = (a, b) => koffi.call(add, proto, a, b);
fns.raw64 = (x) => koffi.call(id, proto64, x);

function sample(key, fn) {
  let s = 0;
  const t = process.hrtime.bigint();
  if (key.endsWith('64')) for (let i = 0; i < N; i++) s += Number(fn(BigInt(i & 1023)));
  else for (let i = 0; i < N; i++) s += fn(i & 1023, 1);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (!(s > 0)) throw new Error(`${key} returned nonsense`);
  return ns;
}
for (const [k, f] of Object.entries(fns)) sample(k, f);
const samples = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, f] of Object.entries(fns)) {
    globalThis.gc?.();
    (samples[k] ??= []).push(sample(k, f));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const out = {};
for (const [k, v] of Object.entries(samples)) out[k] = Number(median(v).toFixed(1));
for (const k of ['old', 'new', 'old64', 'new64']) {
  const anchor = k.endsWith('64') ? samples.raw64 : samples.raw;
  out[`${k} ÷ raw`] = Number(median(samples[k].map((v, i) => v / anchor[i])).toFixed(3));
}
out['new ÷ old'] = Number(median(samples.new.map((v, i) => v / samples.old[i])).toFixed(3));
out['new64 ÷ old64'] = Number(median(samples.new64.map((v, i) => v / samples.old64[i])).toFixed(3));
console.log(JSON.stringify(out));
for (const lib of libs) lib.delete();
