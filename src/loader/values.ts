// Checks of the values the loader's operations take from callers (symbol
// names, sizes, addresses): each wrong value gets a DlbindError that shows it
// with its type (`got 8n (bigint)`). The API checks its arguments with them too.
import { describeValue } from '../elf/checks.js';
import { DlbindError } from './errors.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A symbol name given as a string or UTF-8 bytes, as a string: not empty, no NUL, valid Unicode (ENAME otherwise). */
export function checkName(name: unknown): string {
  let s: string;
  if (typeof name === 'string') s = name;
  else if (name instanceof Uint8Array) {
    try {
      s = utf8Strict.decode(name);
    } catch {
      throw new DlbindError('ENAME', 'symbol name bytes are not valid UTF-8');
    }
  } else throw new DlbindError('ENAME', `symbol name must be a string or UTF-8 bytes, got ${describeValue(name)}`);
  if (s.length === 0) throw new DlbindError('ENAME', 'symbol name is empty');
  if (s.includes('\0')) throw new DlbindError('ENAME', 'symbol name contains NUL');
  // Lone surrogates would not round-trip through UTF-8.
  if (!s.isWellFormed()) throw new DlbindError('ENAME', 'symbol name is not valid Unicode');
  return s;
}

/** A positive size given as a number or a bigint, as a number. */
export function checkSize(size: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof size === 'bigint' && size > 0n && size <= BigInt(max)) return Number(size);
  if (typeof size === 'number' && Number.isSafeInteger(size) && size > 0 && size <= max) return size;
  const range = max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `a positive integer up to ${max}`;
  throw new DlbindError('EINVAL', `${what} must be ${range} (number or bigint), got ${describeValue(size)}`);
}

/** An address given as a bigint (or a safe non-negative number), as a bigint. */
export function checkAddress(addr: unknown): bigint {
  if (typeof addr === 'bigint') return addr;
  if (typeof addr === 'number' && Number.isSafeInteger(addr) && addr >= 0) return BigInt(addr);
  throw new DlbindError('EINVAL', `address must be a bigint, got ${describeValue(addr)}`);
}
