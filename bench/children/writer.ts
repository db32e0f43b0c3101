// Figure 5's own side, in a fresh process so that its peak RSS is its own:
// node --import tsx bench/children/writer.ts COUNT OUT.so [twins|columns]
// Builds COUNT one-byte functions (ret) with buildSharedObject, writes them,
// and prints the times of each step and the peak RSS as JSON. With 'twins' the writer's
// WebAssembly kernels are off: its JavaScript loops alone, as the writer was before them.
// With 'columns' the spec is the bulk form (SymbolColumns): the names as one buffer of
// NUL-terminated names, every function's byte in one buffer, their sizes in a Uint32Array.
import { buildSharedObject, setKernelsEnabled, writeFileAtomic } from '../lib/dlbind.js';
import type { SharedObjectSpec } from '../lib/library-entry.js';
import { functionName } from '../lib/native.js';
import { time } from '../lib/stats.js';

const count = Number(process.argv[2]);
const out = process.argv[3]!;
const mode = process.argv[4];
if (mode === 'twins') setKernelsEnabled(false);
const RET = Uint8Array.of(0xc3);
let spec: SharedObjectSpec = {};
const specSeconds = time(() => {
  if (mode === 'columns') {
    const names = Buffer.alloc(count * 24);
    let at = 0;
    for (let i = 0; i < count; i++) at += names.write(`${functionName(i)}\0`, at, 'latin1');
    spec = { hashStyle: 'both', columns: { names: names.subarray(0, at), bytes: new Uint8Array(count).fill(0xc3), sizes: new Uint32Array(count).fill(1) } };
  } else spec = { hashStyle: 'both', symbols: Array.from({ length: count }, (_, i) => ({ name: functionName(i), section: 'text', bytes: RET })) };
});
let bytes: Uint8Array = new Uint8Array(0);
const buildSeconds = time(() => {
  bytes = buildSharedObject(spec);
});
// The library's own write as ld.lld writes: the old file unlinked first (so that its pages are
// free for the new one's), a new file renamed into place, no fsync.
const writeSeconds = time(() => writeFileAtomic(out, bytes, 0o755, { fsync: false, freeOldFirst: true }));
process.stdout.write(`${JSON.stringify({ specSeconds, buildSeconds, writeSeconds, size: bytes.length, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
