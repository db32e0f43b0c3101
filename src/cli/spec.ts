// `dlbind build`: a buildSharedObject spec written as JSON. The JSON form is
// the library's SharedObjectSpec, except that symbol bytes may also be written
// as hex, base64, or the name of a file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SharedObjectSpec } from '../elf/builder.js';
import { IMPORT_SPEC_KEYS, POINTER_SPEC_KEYS, REFERENCE_SPEC_KEYS, SHARED_OBJECT_SPEC_KEYS, SYMBOL_SPEC_KEYS, unknownKeyMessage } from '../elf/checks.js';
import { ElfBuildError } from '../elf/errors.js';
import { CliError, describeSystemError } from './errors.js';
import { parseJson } from './json.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const isComment = (key: string) => key.startsWith('$') || key.startsWith('//');

/** Each list of allowed fields as a Set: a spec of a million symbols asks a million times. */
const allowedSets = new Map<readonly string[], ReadonlySet<string>>();

/** Unknown fields are typos more often than not; keys starting with '$' or '//' are comments, left out of what the builder sees. */
function checkFields(obj: Json, allowed: readonly string[], at: string): Json {
  let set = allowedSets.get(allowed);
  if (set === undefined) allowedSets.set(allowed, (set = new Set(allowed)));
  let comments = false;
  for (const key in obj) {
    if (set.has(key) || !Object.hasOwn(obj, key)) continue;
    if (isComment(key)) comments = true;
    else throw new ElfBuildError(unknownKeyMessage(key, allowed, 'field'), at === '' ? undefined : at);
  }
  // A copy only when there is something to leave out: most objects have no comments.
  return comments ? Object.fromEntries(Object.entries(obj).filter(([k]) => !isComment(k))) : { ...obj };
}

function arrayField(obj: Json, key: string, at: string): unknown[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ElfBuildError(`must be an array, got ${describe(v)}`, at);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Hex digits, two per byte, with any whitespace between them: "b8 2a 00 00 00 c3". */
export function decodeHex(text: string, field: string): Uint8Array {
  // One pass without intermediate strings: specs of many small functions hold many short hex strings.
  const out = new Uint8Array(text.length >> 1);
  let bytes = 0;
  let digits = 0;
  let high = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (v < 0) {
      if (WHITESPACE.test(text[i]!)) continue;
      throw new ElfBuildError(`is not hex: '${text[i]}' is not a hex digit`, field);
    }
    if ((digits++ & 1) === 0) high = v << 4;
    else out[bytes++] = high | v;
  }
  if (digits % 2 !== 0) throw new ElfBuildError(`has an odd number of hex digits (${digits})`, field);
  return bytes === out.length ? out : out.slice(0, bytes);
}
const WHITESPACE = /\s/;

export function decodeBase64(text: string, field: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw new ElfBuildError('is not valid base64', field);
  return Uint8Array.from(Buffer.from(clean, 'base64'));
}

/** Symbol bytes as written in JSON: a hex string, an array of byte values, or { hex }, { base64 } or { file }. */
export function decodeBytes(value: unknown, field: string, specDir: string): Uint8Array | readonly number[] {
  if (typeof value === 'string') return decodeHex(value, field);
  if (Array.isArray(value)) return value as number[];
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length !== 1 || !['hex', 'base64', 'file'].includes(keys[0]!)) {
      throw new ElfBuildError(`must have exactly one of 'hex', 'base64' or 'file', got {${keys.join(', ')}}`, field);
    }
    const key = keys[0]!;
    const text = value[key];
    if (typeof text !== 'string') throw new ElfBuildError(`must be a string, got ${describe(text)}`, `${field}.${key}`);
    if (key === 'hex') return decodeHex(text, `${field}.hex`);
    if (key === 'base64') return decodeBase64(text, `${field}.base64`);
    const path = resolve(specDir, text);
    try {
      return new Uint8Array(readFileSync(path));
    } catch (err) {
      throw new ElfBuildError(`cannot read ${text}: ${describeSystemError(err) ?? (err as Error).message}`, `${field}.file`);
    }
  }
  throw new ElfBuildError(`must be a hex string, an array of bytes, or an object { hex }, { base64 } or { file }; got ${describe(value)}`, field);
}

/** Checks the JSON's shape where the builder would not, and decodes symbol bytes. Throws ElfBuildError naming the field. */
export function specFromJson(json: unknown, specDir: string): SharedObjectSpec {
  if (!isObject(json)) throw new ElfBuildError(`the spec must be a JSON object, got ${describe(json)}`);
  const top = checkFields(json, SHARED_OBJECT_SPEC_KEYS, '');
  for (const key of ['staticSymbols', 'dynamicWritable']) {
    if (top[key] !== undefined && typeof top[key] !== 'boolean') throw new ElfBuildError(`must be true or false, got ${describe(top[key])}`, key);
  }
  arrayField(top, 'needed', 'needed');
  const symbols = (arrayField(top, 'symbols', 'symbols') ?? []).map((s, i) => {
    const at = `symbols[${i}]`;
    if (!isObject(s)) throw new ElfBuildError(`must be an object, got ${describe(s)}`, at);
    const symbol = checkFields(s, SYMBOL_SPEC_KEYS, at); // a copy: decoding may replace fields
    if (symbol.bytes !== undefined) symbol.bytes = decodeBytes(symbol.bytes, `${at}.bytes`, specDir);
    // 'frame-pointer', or the call-frame instruction bytes in any form symbol bytes take.
    if (symbol.unwind !== undefined && symbol.unwind !== 'frame-pointer') symbol.unwind = decodeBytes(symbol.unwind, `${at}.unwind`, specDir);
    return symbol;
  });
  const pointers = arrayField(top, 'pointers', 'pointers')?.map((p, i) => {
    const at = `pointers[${i}]`;
    if (!isObject(p)) throw new ElfBuildError(`must be an object, got ${describe(p)}`, at);
    return checkFields(p, POINTER_SPEC_KEYS, at);
  });
  const objects = (key: string, fields: readonly string[], strings: boolean) =>
    arrayField(top, key, key)?.forEach((p, i) => {
      if (strings && typeof p === 'string') return;
      if (!isObject(p)) throw new ElfBuildError(`must be ${strings ? 'a name or ' : ''}an object, got ${describe(p)}`, `${key}[${i}]`);
      checkFields(p, fields, `${key}[${i}]`);
    });
  objects('imports', IMPORT_SPEC_KEYS, true);
  objects('references', REFERENCE_SPEC_KEYS, false);
  const spec: Json = { ...top, symbols };
  if (pointers !== undefined) spec.pointers = pointers;
  return spec as unknown as SharedObjectSpec;
}

/** Reads and checks a spec file. Syntax errors carry line and column; field errors name the field. */
/** Reads and checks a spec; `-` is standard input, with {"file": ...} paths relative to the working directory. */
export function loadSpec(path: string): SharedObjectSpec {
  let text: string;
  const stdin = path === '-';
  try {
    text = readFileSync(stdin ? 0 : path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  }
  const json = parseJson(text, stdin ? '<stdin>' : path);
  try {
    return specFromJson(json, stdin ? process.cwd() : dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ElfBuildError) throw new CliError(`${stdin ? '<stdin>' : path}: ${err.message}`, { cause: err });
    throw err;
  }
}
