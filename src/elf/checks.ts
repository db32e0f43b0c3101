// Input checks shared by every layer: how a wrong value is shown in a message,
// and the known keys of every options and spec object, one list per type, with
// the check that rejects the others: an unknown key is a typo more often than not
// ({ txet: 10 }, sise: 4), and ignoring it would silently use the default.
import type { PointerSpec, SharedObjectSpec, SymbolSpec } from './builder.js';
import type { ImportSpec, LinkSpec, ReferenceSpec } from './link-spec.js';

/**
 * A list of the keys of T that the compiler checks is complete: adding a
 * field to T without listing it here is a type error.
 * @internal
 */
export function keysOf<T>() {
  return <const K extends readonly (keyof T & string)[]>(keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : never)): K => keys;
}

/** @internal */
export const SHARED_OBJECT_SPEC_KEYS = keysOf<SharedObjectSpec>()([
  'machine',
  'soname',
  'needed',
  'hashStyle',
  'symbols',
  'pointers',
  'pageSize',
  'staticSymbols',
  'dynamicWritable',
  'imports',
  'references',
  'relr',
  'buildId',
  'runpath',
  'bindNow',
  'flags',
  'flags1',
  'versions',
  'relro',
  'columns',
]);
/** @internal */
export const SYMBOL_SPEC_KEYS = keysOf<SymbolSpec>()([
  'name',
  'kind',
  'section',
  'bytes',
  'size',
  'align',
  'binding',
  'visibility',
  'version',
  'defaultVersion',
  'unwind',
]);
/** @internal */
export const POINTER_SPEC_KEYS = keysOf<PointerSpec>()(['symbol', 'offset', 'target', 'addend', 'relocation']);
/** @internal */
export const IMPORT_SPEC_KEYS = keysOf<ImportSpec>()(['name', 'version', 'from', 'kind', 'binding']);
/** @internal */
export const REFERENCE_SPEC_KEYS = keysOf<ReferenceSpec>()(['symbol', 'offset', 'target', 'via', 'encoding', 'addend']);
/** @internal */
export const VERSION_SPEC_KEYS = keysOf<Exclude<NonNullable<LinkSpec['versions']>[number], string>>()(['name', 'parent']);

/** Levenshtein distance, small strings only. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key nearest to `key`, if one is near enough to be what was meant. @internal */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(k, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The first own enumerable key of `obj` that is not in `known` (and that
 * `skip` does not accept), or undefined.
 * @internal
 */
export function unknownKey(obj: object, known: readonly string[], skip?: (key: string) => boolean): string | undefined {
  for (const key in obj) {
    if (!Object.hasOwn(obj, key) || known.includes(key) || skip?.(key)) continue;
    return key;
  }
  return undefined;
}

/** "unknown key 'txet' (did you mean 'text'?)", or with the list of known keys when none is near. @internal */
export function unknownKeyMessage(key: string, known: readonly string[], noun = 'key'): string {
  const near = nearestKey(key, known);
  return near === undefined ? `unknown ${noun} '${key}' (expected one of ${known.join(', ')})` : `unknown ${noun} '${key}' (did you mean '${near}'?)`;
}

/** A value as a message shows it, with its type: `8n (bigint)`, `"8" (string)`, `an array of 3`. @internal */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return `${v}n (bigint)`;
    case 'number':
      return `${Object.is(v, -0) ? '-0' : String(v)} (number)`;
    case 'string':
      return `${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)} (string)`;
    case 'boolean':
      return `${v} (boolean)`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return `${String(v)} (symbol)`;
    case 'function':
      return 'a function';
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const ctor = (v as object).constructor;
  if (ctor === Object || ctor === undefined) return 'an object';
  return `${/^[AEIOU]/.test(ctor.name) ? 'an' : 'a'} ${ctor.name}`;
}

/**
 * Bytes as a caller may give them (a Uint8Array, any other ArrayBuffer view,
 * or an array of numbers 0..255) as a Uint8Array, sharing the memory of a
 * view; a message saying what is wrong otherwise.
 * @internal
 */
export function toByteArray(value: unknown): Uint8Array | string {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (!Array.isArray(value)) return `must be a Uint8Array, another ArrayBuffer view or an array of bytes, got ${describeValue(value)}`;
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const b: unknown = value[i];
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) return `byte ${i} is ${describeValue(b)}, not 0..255`;
    out[i] = b;
  }
  return out;
}
