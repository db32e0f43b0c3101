// Calling machine code from JavaScript: a C signature becomes a koffi
// prototype (anonymous, because koffi's type names are process-wide), and the
// address becomes a function whose results have one JS type per C type. A
// function made for code in a live library checks, at each call, that its
// block was not freed and its library not deleted: one load and a compare.
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
  /** The number of parameters; -1 for a variadic function. */
  arity: number;
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
  const info = (c.koffi.type(proto) as { proto?: { result?: { primitive?: string }; arguments?: unknown[] } }).proto;
  const primitive = info?.result?.primitive ?? '';
  // koffi's type description does not say whether the prototype is variadic; its text does.
  const arity = /\.\.\.\s*\)\s*$/.test(signature) ? -1 : (info?.arguments?.length ?? -1);
  p = { proto, result: /^U?Int64/.test(primitive) ? 'bigint' : primitive === 'Pointer' ? 'pointer' : 'as-is', arity };
  prototypes.set(signature, p);
  return p;
}

/** Turns koffi's result into the documented JS type: int64 results are always bigint, a NULL pointer is 0n. */
const RESULTS: Record<Prototype['result'], (r: unknown) => unknown> = {
  'as-is': (r) => r,
  bigint: (r) => (typeof r === 'bigint' ? r : BigInt(r as number)),
  pointer: (r) => (r as bigint | null) ?? 0n,
};

/**
 * A callable for the code at `addr`. With a guard, each call first checks
 * that the block is live (EFREED, EDELETED otherwise).
 */
export function makeFunction<F extends AnyFunction>(addr: unknown, signature: unknown, guard?: BlockGuard): F {
  const target = checkAddress(addr);
  if (target === 0n) throw new DlbindError('EINVAL', 'cannot call address 0');
  const { proto, result, arity } = prototype(signature);
  const call = bindLibc().call;
  const g = guard ?? { state: GUARD_LIVE, what: '' };
  const out = RESULTS[result];
  // Any call that is not the plain case: a freed block, a variadic function, or another
  // number of arguments (which koffi would ignore when too many).
  const general = (...args: unknown[]): unknown => {
    if (g.state !== GUARD_LIVE) throw guardError(g, `${signature as string} at 0x${target.toString(16)}`);
    if (arity >= 0 && args.length !== arity)
      throw new DlbindError('EINVAL', `${signature as string} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`);
    announceBeforeCall();
    return out(call(target, proto, ...args));
  };
  // The plain case has one closure per arity, with named parameters: a rest parameter and
  // its spread into koffi.call cost a quarter of a call (BENCHMARKS.md, issue 15).
  const fast = (ok: boolean): boolean => ok && g.state === GUARD_LIVE;
  let fn: AnyFunction;
  switch (arity) {
    case 0:
      fn = function (this: unknown) {
        // biome-ignore lint/complexity/noArguments: its length, without a rest parameter's array
        if (!fast(arguments.length === 0)) return general(...arguments);
        announceBeforeCall();
        return out(call(target, proto));
      };
      break;
    case 1:
      fn = function (this: unknown, a: unknown) {
        // biome-ignore lint/complexity/noArguments: its length, without a rest parameter's array
        if (!fast(arguments.length === 1)) return general(...arguments);
        announceBeforeCall();
        return out(call(target, proto, a));
      };
      break;
    case 2:
      fn = function (this: unknown, a: unknown, b: unknown) {
        // biome-ignore lint/complexity/noArguments: its length, without a rest parameter's array
        if (!fast(arguments.length === 2)) return general(...arguments);
        announceBeforeCall();
        return out(call(target, proto, a, b));
      };
      break;
    case 3:
      fn = function (this: unknown, a: unknown, b: unknown, c: unknown) {
        // biome-ignore lint/complexity/noArguments: its length, without a rest parameter's array
        if (!fast(arguments.length === 3)) return general(...arguments);
        announceBeforeCall();
        return out(call(target, proto, a, b, c));
      };
      break;
    case 4:
      fn = function (this: unknown, a: unknown, b: unknown, c: unknown, d: unknown) {
        // biome-ignore lint/complexity/noArguments: its length, without a rest parameter's array
        if (!fast(arguments.length === 4)) return general(...arguments);
        announceBeforeCall();
        return out(call(target, proto, a, b, c, d));
      };
      break;
    default:
      fn = general;
  }
  return fn as F;
}
