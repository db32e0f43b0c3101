// How the command line reports failures: one line on stderr, exit code 1.
// From their own modules, not the library's index: a command that fails early loads no more than it needs.
import { ElfBuildError, ElfFormatError } from '../elf/errors.js';
import { DlbindError } from '../loader/errors.js';

/** A failure explained to the user in one line (no stack trace). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Node's system errors, worded for people: "no such file or directory". */
export function describeSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  // "ENOENT: no such file or directory, open 'x'" -> "no such file or directory"
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  return m?.[1] ?? e.code;
}

/**
 * The one-line message for an error, and whether it was expected (bad input,
 * missing file, unsupported platform) rather than a bug in dlbind.
 */
export function describeError(err: unknown): { message: string; expected: boolean } {
  if (err instanceof CliError) return { message: err.message, expected: true };
  if (err instanceof ElfFormatError) return { message: `not a valid ELF64 file: ${err.message}`, expected: true };
  if (err instanceof ElfBuildError) return { message: err.message, expected: true };
  if (err instanceof DlbindError) return { message: err.message, expected: true };
  const system = describeSystemError(err);
  if (system !== undefined) {
    const e = err as NodeJS.ErrnoException;
    return { message: `${e.path ?? e.syscall}: ${system}`, expected: true };
  }
  return { message: `internal error: ${err instanceof Error ? err.message : String(err)}`, expected: false };
}
