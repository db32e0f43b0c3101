// Figure 5's own side, in a fresh process so that its peak RSS is its own:
// node --import tsx bench/children/writer.ts COUNT OUT.so [file]
// Builds COUNT one-byte functions (ret) with buildSharedObject and writes them with
// writeFileSync, or with `file`, does both in one writeSharedObject call (which writes
// atomically, with fsync); prints the times of each step and the peak RSS as JSON.
import { statSync, writeFileSync } from 'node:fs';
import { buildSharedObject, writeSharedObject } from '../lib/dlbind.js';
import { functionName } from '../lib/native.js';
import { time } from '../lib/stats.js';

const count = Number(process.argv[2]);
const out = process.argv[3]!;
const viaFile = process.argv[4] === 'file';
const RET = Uint8Array.of(0xc3);
let symbols: { name: string; section: 'text'; bytes: Uint8Array }[] = [];
const specSeconds = time(() => {
  symbols = Array.from({ length: count }, (_, i) => ({ name: functionName(i), section: 'text', bytes: RET }));
});
let bytes: Uint8Array = new Uint8Array(0);
let writeSeconds = 0;
const buildSeconds = viaFile
  ? time(() => writeSharedObject(out, { symbols, hashStyle: 'both' }))
  : time(() => {
      bytes = buildSharedObject({ symbols, hashStyle: 'both' });
    });
if (!viaFile) writeSeconds = time(() => writeFileSync(out, bytes));
const size = viaFile ? statSync(out).size : bytes.length;
process.stdout.write(`${JSON.stringify({ specSeconds, buildSeconds, writeSeconds, size, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
