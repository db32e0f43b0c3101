// `dlbind inspect`: reads the file and prints the report (the reader and the formatters load
// only for this subcommand).
import { readFileSync } from 'node:fs';
import { readElf } from '../elf/reader.js';
import { CliError, describeError, describeSystemError } from './errors.js';
import { inspectJson, inspectText, toJson } from './inspect.js';

function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  }
}

/** The report on `path`: every part, or the parts whose flags are in `only`; JSON or text. */
export function runInspect(path: string, only: readonly string[], json: boolean): string {
  const bytes = readInput(path);
  let file: ReturnType<typeof readElf>;
  try {
    file = readElf(bytes);
  } catch (err) {
    const { message, expected } = describeError(err);
    if (expected) throw new CliError(`${path}: ${message}`, { cause: err });
    throw err;
  }
  return json ? toJson(inspectJson(file, path, bytes.length, only)) : inspectText(file, path, bytes.length, only).join('\n');
}
