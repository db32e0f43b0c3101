// JSON input for the command line: JSON.parse does the work; when it fails, a
// small scanner finds where, so that the message can give a line and column
// (V8's own messages sometimes carry a position and sometimes do not).
import { CliError } from './errors.js';

/** Parses JSON text; a syntax error becomes a CliError `file:line:column: what`. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const found = locateJsonError(text) ?? { offset: text.length, what: (err as Error).message };
    const { line, column } = lineAndColumn(text, found.offset);
    throw new CliError(`${file}:${line}:${column}: invalid JSON: ${found.what}`);
  }
}

/** 1-based line and column (in UTF-16 code units, as editors count for ASCII) of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

const WS = new Set([' ', '\t', '\n', '\r']);

function show(c: string | undefined): string {
  if (c === undefined) return 'end of input';
  return c < ' ' ? `character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}` : `'${c}'`;
}

/**
 * The offset and nature of the first error in text that JSON.parse rejected,
 * following RFC 8259. Iterative, so that deep nesting cannot overflow the stack.
 */
export function locateJsonError(text: string): { offset: number; what: string } | undefined {
  let i = 0;
  const fail = (what: string, at = i): { offset: number; what: string } => ({ offset: at, what });
  const skip = (): void => {
    while (i < text.length && WS.has(text[i]!)) i++;
  };
  const literal = (word: string): boolean => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return true;
    }
    return false;
  };
  const string = (): { offset: number; what: string } | undefined => {
    const start = i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) return fail('unterminated string', start);
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c < ' ') return fail(`${show(c)} must be escaped inside a string`);
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail('\\u must be followed by four hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return fail(`bad escape ${e === undefined ? 'at end of input' : `'\\${e}'`}`);
      } else i++;
    }
  };
  const number = (): { offset: number; what: string } | undefined => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0] === '-') return fail(`unexpected ${show(text[i])}`);
    i += m[0].length;
    return undefined;
  };
  // Each open container: '{' or '['.
  const stack: string[] = [];
  const value = (): { offset: number; what: string } | undefined => {
    skip();
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      return undefined;
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    if (literal('true') || literal('false') || literal('null')) return undefined;
    return fail(c === undefined ? 'unexpected end of input' : `unexpected ${show(c)}, expected a value`);
  };
  // After an opening bracket: a member (or value), or the closing bracket at once.
  let opened = false;
  let err = value();
  if (err !== undefined) return err;
  opened = stack.length > 0;
  while (stack.length > 0) {
    skip();
    const top = stack[stack.length - 1]!;
    const close = top === '{' ? '}' : ']';
    if (opened && text[i] === close) {
      stack.pop();
      i++;
      opened = false;
      continue;
    }
    if (!opened) {
      if (text[i] === close) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') return fail(text[i] === undefined ? 'unexpected end of input' : `expected ',' or '${close}', found ${show(text[i])}`);
      i++;
      skip();
    }
    if (top === '{') {
      if (text[i] !== '"') return fail(`expected a property name in double quotes, found ${show(text[i])}`);
      err = string();
      if (err !== undefined) return err;
      skip();
      if (text[i] !== ':') return fail(`expected ':' after the property name, found ${show(text[i])}`);
      i++;
    }
    const depth = stack.length;
    err = value();
    if (err !== undefined) return err;
    opened = stack.length > depth;
  }
  skip();
  if (i < text.length) return fail(`unexpected ${show(text[i])} after the JSON value`);
  return undefined;
}
