// Random words for what should differ between processes and runs: where an alias
// lands in its space, and a default library name.
import { closeSync, openSync, readSync } from 'node:fs';

const pool = new Uint32Array(256);
let left = 0;

/**
 * Fills the pool from /dev/urandom: about 0.3 ms at a fresh process's first
 * dlcreate. Web Crypto's getRandomValues, the fallback where /dev/urandom
 * cannot be read (a chroot without /dev), loads its module at the first call:
 * 0.5 - 0.7 ms there.
 */
function refill(): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, pool, 0, pool.byteLength, null) === pool.byteLength) return;
    } finally {
      closeSync(fd);
    }
  } catch {
    // below
  }
  crypto.getRandomValues(pool);
}

/** 32 random bits, from a pool refilled by the OS 256 words at a time. */
export function randomWord(): number {
  if (left === 0) {
    refill();
    left = pool.length;
  }
  return pool[--left]!;
}

/** `digits` random hex digits (lowercase), for names. */
export function randomHex(digits: number): string {
  let hex = '';
  while (hex.length < digits) hex += randomWord().toString(16).padStart(8, '0');
  return hex.slice(0, digits);
}
