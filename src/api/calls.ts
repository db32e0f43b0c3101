// Calling machine code from JavaScript: a C signature becomes a koffi
// prototype (anonymous, because koffi's type names are process-wide), and the
// address becomes a function whose results have one JS type per C type. A
// function made for code in a live library checks, at each call, that its
// block was not freed and its library not deleted: two loads and a compare.
import { describeValue } from '../elf/checks.js';
import { announceBeforeCall } from '../loader/debugger.js';
import { DlbindError } from '../loader/errors.js';
import type { KoffiType } from '../loader/libc.js';
import { bindLibc } from '../loader/live-object.js';
import { type BlockGuard, GUARD_LIVE, guardError } from '../loader/block-states.js';
import { checkAddress } from './checks.js';

/** Any function type, as the type parameter of dlfunc and lib.func. */
// biome-ignore lint/suspicious/noExplicitAny: the bound of a caller-chosen function type
export type AnyFunction = (...args: any[]) => any;

interface Prototype {
  proto: KoffiType;
  /** How results are turned into their documented JS type. */
  result: 'as-is' | 'bigint' | 'pointer';
}

const prototypes = new Map<string, Prototype>();

/** What dlfunc needs of a live library: whether an address is in it, and its guarded functions. */
interface CallableLibrary {
  holds(addr: bigint): boolean;
  func<F extends AnyFunction>(addr: bigint, signature: string): F;
}

/** The live libraries of this thread, so that dlfunc can guard a call into one. */
const libraries = new Set<CallableLibrary>();

export function registerLibrary(library: CallableLibrary): void {
  libraries.add(library);
}

export function forgetLibrary(library: CallableLibrary): void {
  libraries.delete(library);
}

/** The live library whose mapping holds `addr`, if any. */
export function libraryAt(addr: bigint): CallableLibrary | undefined {
  for (const l of libraries) if (l.holds(addr)) return l;
  return undefined;
}

// The words a C base type is made of: the last identifier before '(' is the function's name unless it is one of these.
const TYPE_WORDS = new Set(['void', 'char', 'short', 'int', 'long', 'signed', 'unsigned', 'float', 'double', 'bool', '_Bool', 'const', 'volatile']);

/** The signature without its function name, which koffi would register process-wide. */
function anonymous(signature: string): string {
  const paren = signature.indexOf('(');
  if (paren < 0) return signature;
  const head = signature.slice(0, paren);
  const m = /^(.*[\s*])([A-Za-z_]\w*)\s*$/.exec(head);
  if (m === null || m[1]!.trim() === '' || TYPE_WORDS.has(m[2]!)) return signature;
  return `${m[1]}${signature.slice(paren)}`;
}

function prototype(signature: unknown): Prototype {
  if (typeof signature !== 'string')
    throw new DlbindError('EINVAL', `a signature must be a C prototype string such as 'int add(int a, int b)', got ${describeValue(signature)}`);
  let p = prototypes.get(signature);
  if (p !== undefined) return p;
  const c = bindLibc();
  let proto: KoffiType;
  try {
    proto = c.proto(anonymous(signature));
  } catch (err) {
    throw new DlbindError('EINVAL', `bad signature '${signature}': ${(err as Error).message}`);
  }
  const primitive = (c.koffi.type(proto) as { proto?: { result?: { primitive?: string } } }).proto?.result?.primitive ?? '';
  p = { proto, result: /^U?Int64/.test(primitive) ? 'bigint' : primitive === 'Pointer' ? 'pointer' : 'as-is' };
  prototypes.set(signature, p);
  return p;
}

/**
 * A callable for the code at `addr`. With a guard, each call first checks
 * that the block is live (EFREED, EDELETED otherwise).
 */
export function makeFunction<F extends AnyFunction>(addr: unknown, signature: unknown, guard?: BlockGuard): F {
  const target = checkAddress(addr);
  if (target === 0n) throw new DlbindError('EINVAL', 'cannot call address 0');
  const { proto, result } = prototype(signature);
  const c = bindLibc();
  const call = c.call;
  const g = guard ?? { state: GUARD_LIVE, what: '' };
  const stale = (): never => {
    throw guardError(g, `${signature as string} at 0x${target.toString(16)}`);
  };
  let fn: AnyFunction;
  if (result === 'bigint')
    fn = (...args: unknown[]) => {
      if (g.state !== GUARD_LIVE) stale();
      announceBeforeCall();
      const r = call(target, proto, ...args);
      return typeof r === 'bigint' ? r : BigInt(r as number);
    };
  else if (result === 'pointer')
    fn = (...args: unknown[]) => {
      if (g.state !== GUARD_LIVE) stale();
      announceBeforeCall();
      return (call(target, proto, ...args) as bigint | null) ?? 0n;
    };
  else
    fn = (...args: unknown[]) => {
      if (g.state !== GUARD_LIVE) stale();
      announceBeforeCall();
      return call(target, proto, ...args);
    };
  return fn as F;
}
