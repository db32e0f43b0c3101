// The run-time API's argument checks: each wrong value gets a DlbindError
// that shows it with its type (`got 8n (bigint)`), and each options object is
// checked against the one list of keys its type has.
import { describeValue, keysOf, toByteArray, unknownKey, unknownKeyMessage } from '../elf/checks.js';
import { DlbindError, locatedError } from '../loader/errors.js';
import { checkName, checkSize } from '../loader/values.js';
import type { ImportOptions } from '../loader/imports.js';
import type { LoadObjectOptions } from '../loader/object-loader.js';
import { type Capacity, type CapacityOptions as ZygoteCapacityOptions, resolveCapacity } from '../loader/zygote.js';
import type {
  AddDataOptions,
  AddDataSymbolsOptions,
  AddFunctionOptions,
  AddFunctionsOptions,
  BindManyOptions,
  BindOptions,
  DlcreateOptions,
  FlushOptions,
} from './types.js';

export { describeValue };
export { checkAddress, checkName, checkSize } from '../loader/values.js';

/** The keys each options type knows; anything else is a typo (EINVAL, with the nearest key suggested). */
export const CAPACITY_KEYS = keysOf<Capacity>()(['text', 'rodata', 'data', 'maxSymbols', 'stringTableSize']);
export const DLCREATE_OPTION_KEYS = keysOf<DlcreateOptions>()([...CAPACITY_KEYS, 'scale', 'global', 'backing', 'debug', 'perf']);
export const BIND_OPTION_KEYS = keysOf<BindOptions>()(['replace', 'unwind']);
export const ADD_FUNCTION_OPTION_KEYS = keysOf<AddFunctionOptions>()([...BIND_OPTION_KEYS, 'align']);
export const ADD_DATA_OPTION_KEYS = keysOf<AddDataOptions>()([...BIND_OPTION_KEYS, 'align', 'writable']);
export const BIND_MANY_OPTION_KEYS = keysOf<BindManyOptions>()(['type']);
export const FLUSH_OPTION_KEYS = keysOf<FlushOptions>()(['settle']);
export const ADD_FUNCTIONS_OPTION_KEYS = keysOf<AddFunctionsOptions>()(['align']);
export const ADD_DATA_SYMBOLS_OPTION_KEYS = keysOf<AddDataSymbolsOptions>()(['align', 'writable']);
export const IMPORT_OPTION_KEYS = keysOf<ImportOptions>()(['version', 'from']);
export const LOAD_OBJECT_OPTION_KEYS = keysOf<LoadObjectOptions>()(['resolve', 'unwind']);
const DIRECTORY_KEYS = ['directory'] as const;

/** Checks that `options` is undefined or an object holding only `known` keys; `what` names it in messages ("dlcreate options"). */
export function checkOptions<T extends object>(options: T | undefined, known: readonly string[], what: string): T | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new DlbindError('EINVAL', `${what} must be an object, got ${describeValue(options)}`);
  const key = unknownKey(options, known);
  if (key !== undefined) throw new DlbindError('EINVAL', `${what}: ${unknownKeyMessage(key, known, 'option')}`);
  return options;
}

/** `{ directory }` of the backing and perf options. */
export function checkDirectory(value: unknown, what: string): string {
  const o = checkOptions(value as object, DIRECTORY_KEYS, what);
  const dir = (o as { directory?: unknown } | undefined)?.directory;
  if (typeof dir !== 'string' || dir.length === 0) throw new DlbindError('EINVAL', `${what} needs { directory: string }, got ${describeValue(dir)}`);
  return dir;
}

/**
 * A column of a batch call (bindMany, addFunctions): an array, or a typed
 * array where `typed`, of `length` entries when that is given. Returns its length.
 */
export function checkColumn(value: unknown, what: string, length: number | undefined, typed: boolean): number {
  const ok = Array.isArray(value) || (typed && ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!ok) throw new DlbindError('EINVAL', `${what} must be an array${typed ? ' or a typed array' : ''}, got ${describeValue(value)}`);
  const n = (value as ArrayLike<unknown>).length;
  if (length !== undefined && n !== length) throw new DlbindError('EINVAL', `${what} has ${n} entries, names has ${length}`);
  return n;
}

/** The names of a batch, each checked as checkName checks one; an error names the entry (`names[3]: symbol name is empty`). */
export function checkNames(names: unknown, what: string): string[] {
  const count = checkColumn(names, `${what}: names`, undefined, false);
  const out: string[] = new Array(count);
  const list = names as readonly unknown[];
  for (let i = 0; i < count; i++) {
    const name = list[i];
    // The common case without a call: checkName's tests, inline.
    if (typeof name === 'string' && name.length > 0 && !name.includes('\0') && name.isWellFormed()) out[i] = name;
    else out[i] = atIndex(`names[${i}]`, () => checkName(name));
  }
  return out;
}

/** Runs `check`; a DlbindError it throws is thrown again with `where: ` before its message. */
export function atIndex<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw locatedError(err, where);
  }
}

/** Bytes as a Uint8Array: any ArrayBuffer view (sharing its memory) or an array of numbers 0..255. */
export function checkBytes(bytes: unknown, what = 'bytes'): Uint8Array {
  const data = toByteArray(bytes);
  if (typeof data === 'string') throw new DlbindError('EINVAL', `${what} ${data}`);
  return data;
}

/**
 * The rule for library names (dlcreate's `name`, and the soname save writes):
 * 1-200 characters of [A-Za-z0-9._+-], so that the name is a file name, a
 * memfd name and a soname that no shell or linker command line splits.
 */
export const LIBRARY_NAME = /^[A-Za-z0-9._+-]{1,200}$/;

export function checkLibraryName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !LIBRARY_NAME.test(name) || name === '.' || name === '..')
    throw new DlbindError('EINVAL', `${what} must be 1-200 characters of [A-Za-z0-9._+-], got ${describeValue(name)}`);
  return name;
}

export function checkCapacity(options: DlcreateOptions, page: number): Capacity {
  const given: ZygoteCapacityOptions = { scale: options.scale };
  for (const key of CAPACITY_KEYS) {
    const v = options[key];
    if (v === undefined) continue;
    // A positive integer of any size goes on, to be refused with the platform's limit (ETOOBIG) if too large.
    if ((typeof v === 'number' && Number.isInteger(v) && v > 0) || (typeof v === 'bigint' && v > 0n)) given[key] = Number(v);
    else given[key] = checkSize(v, `option ${key}`, Number.MAX_SAFE_INTEGER);
  }
  // Range and the platform's limit (ETOOBIG) are checked where the zygote is sized.
  return resolveCapacity(given, page);
}

/**
 * Makes every own property of `obj` but `keep` non-enumerable, so that a
 * structured clone (postMessage, workerData) carries only those: the brand
 * of a JitLibrary, not its internals (some of which are functions, which
 * would make the clone throw DataCloneError).
 */
export function cloneOnly(obj: object, keep: readonly string[]): void {
  for (const key of Object.keys(obj)) if (!keep.includes(key)) Object.defineProperty(obj, key, { enumerable: false });
}
