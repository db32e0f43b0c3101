// Code that references other code, offline: planSharedObject places every symbol first, so
// the caller's `call` (x86_64 rel32) or `bl` (aarch64) can be patched with the distance to
// its callee before buildFromPlan writes the bytes. Then ld.so loads the file and it runs.
//
//   npx tsx examples/plan-then-build.ts
//
// (A spec's `references` has the writer do this patching for you; this is the step by hand.)
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFromPlan, planSharedObject, readElf, writeFileAtomic } from 'dlbind';

const x86 = process.arch !== 'arm64';
const words = (...w: number[]): Uint8Array => new Uint8Array(Uint32Array.from(w).buffer);

// int answer(void) { return 42; }   int twice_answer(void) { return 2 * answer(); }
const answer = x86 ? Uint8Array.of(0xb8, 0x2a, 0, 0, 0, 0xc3) : words(0x52800540, 0xd65f03c0);
const twice = x86
  ? Uint8Array.of(0xe8, 0, 0, 0, 0, 0x01, 0xc0, 0xc3) // call answer; add eax, eax; ret
  : words(0xa9bf7bfd, 0x94000000, 0x0b000000, 0xa8c17bfd, 0xd65f03c0); // stp x29, x30; bl answer; add w0, w0, w0; ldp; ret
const callAt = x86 ? 0 : 4;

const plan = planSharedObject({
  machine: x86 ? 'x86_64' : 'aarch64',
  soname: 'libtwice.so',
  symbols: [
    { name: 'twice_answer', section: 'text', bytes: twice },
    { name: 'answer', section: 'text', bytes: answer },
  ],
});
// Both symbols now have their offsets in .text: the distance between them is known.
const at = (name: string) => plan.symbols.find((s) => s.name === name)!.offset;
const text = plan.sections.text.content!;
const view = new DataView(text.buffer, text.byteOffset, text.byteLength);
const site = at('twice_answer') + callAt;
if (x86) view.setInt32(site + 1, at('answer') - (site + 5), true);
else view.setUint32(site, 0x94000000 | (((at('answer') - site) / 4) & 0x3ffffff), true);
console.log(`planned: twice_answer at .text+${at('twice_answer')}, answer at .text+${at('answer')}; the call at +${site} patched`);

const { bytes } = buildFromPlan(plan);
const dir = mkdtempSync(join(tmpdir(), 'dlbind-plan-'));
try {
  const path = join(dir, 'libtwice.so');
  writeFileAtomic(path, bytes);
  console.log(
    `built ${path}: ${bytes.length} bytes, symbols ${readElf(bytes)
      .dynamicSymbols.filter((s) => s.name !== '')
      .map((s) => s.name)
      .join(', ')}`,
  );
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load(path);
  console.log(`twice_answer() = ${lib.func('int twice_answer(void)')()}`);
  lib.unload();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
