// Making code written through the alias visible to instruction fetch at its loaded address.
import { readFileSync } from 'node:fs';
import { getLibc } from './libc.js';
import type { LiveObject } from './live-object.js';

let clearCache: ((start: bigint, end: bigint) => void) | undefined;
let emulated: boolean | undefined;

/**
 * Whether this arm64 process runs under qemu-user on another CPU: /proc/cpuinfo is then the
 * host's (qemu does not emulate it for aarch64), which has no "CPU implementer" line.
 */
export function emulatedArm64(): boolean {
  if (emulated === undefined) {
    let cpuinfo = '';
    try {
      cpuinfo = readFileSync('/proc/cpuinfo', 'latin1');
    } catch {}
    emulated = process.arch === 'arm64' && cpuinfo !== '' && !/^CPU implementer/m.test(cpuinfo);
  }
  return emulated;
}

/**
 * On aarch64, after code was stored at [objectOffset, +length) of `object`'s text: libgcc's
 * __clear_cache does the dc cvau / ic ivau dance for the running CPU. qemu-user treats those as
 * no-ops and finds rewritten code only by write-protecting the pages it translated, which a store
 * through the alias (another mapping) never touches: it would run the old translation of reused
 * memory, freed code included. Mapping the pages afresh makes qemu drop its translations.
 */
export function syncInstructionCache(object: LiveObject, objectOffset: number, length: number): void {
  if (clearCache === undefined) {
    const fn = getLibc().koffi.load('libgcc_s.so.1').func('void __clear_cache(void *begin, void *end)');
    clearCache = (s, e) => fn(s, e);
  }
  const start = object.loadBase + BigInt(objectOffset);
  clearCache(start, start + BigInt(length));
  if (emulatedArm64()) object.refreshText(objectOffset, length);
}
