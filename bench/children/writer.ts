// Figure 5's own side, in a fresh process so that its peak RSS is its own:
// node --import tsx bench/children/writer.ts COUNT OUT.so [twins]
// Builds COUNT one-byte functions (ret) with buildSharedObject, writes them,
// and prints the times of each step and the peak RSS as JSON. With 'twins' the writer's
// WebAssembly kernels are off: its JavaScript loops alone, as the writer was before them.
import { writeFileSync } from 'node:fs';
import { buildSharedObject, setKernelsEnabled } from '../lib/dlbind.js';
import { functionName } from '../lib/native.js';
import { time } from '../lib/stats.js';

const count = Number(process.argv[2]);
const out = process.argv[3]!;
if (process.argv[4] === 'twins') setKernelsEnabled(false);
const RET = Uint8Array.of(0xc3);
let symbols: { name: string; section: 'text'; bytes: Uint8Array }[] = [];
const specSeconds = time(() => {
  symbols = Array.from({ length: count }, (_, i) => ({ name: functionName(i), section: 'text', bytes: RET }));
});
let bytes: Uint8Array = new Uint8Array(0);
const buildSeconds = time(() => {
  bytes = buildSharedObject({ symbols, hashStyle: 'both' });
});
const writeSeconds = time(() => writeFileSync(out, bytes));
process.stdout.write(`${JSON.stringify({ specSeconds, buildSeconds, writeSeconds, size: bytes.length, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
