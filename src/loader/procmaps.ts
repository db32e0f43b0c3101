// /proc/self/maps, parsed: for the W^X audit, leak checks and tests.
import { readFileSync, readdirSync } from 'node:fs';

export interface Mapping {
  start: bigint;
  end: bigint;
  /** The four permission characters, e.g. 'r-xp'. */
  perms: string;
  offset: bigint;
  path: string;
}

export function readMappings(pid: number | 'self' = 'self'): Mapping[] {
  const text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (m === null) continue;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]!, offset: BigInt(`0x${m[4]}`), path: m[5] ?? '' });
  }
  return out;
}

/** Mappings that are both writable and executable: there must never be any. */
export function writableExecutableMappings(pid: number | 'self' = 'self'): Mapping[] {
  return readMappings(pid).filter((m) => m.perms[1] === 'w' && m.perms[2] === 'x');
}

/** How many file descriptors this process has open. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
