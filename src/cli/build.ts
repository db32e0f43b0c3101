// `dlbind build`: a shared object from a JSON spec, written atomically.
import { statSync } from 'node:fs';
import { ElfBuildError, buildSharedObject, readElf, writeFileAtomic } from '../index.js';
import { CliError, describeSystemError } from './errors.js';
import { grouped } from './format.js';
import { loadSpec } from './spec.js';

/** Builds `specPath` into `outPath` and returns a one-line summary. */
export function runBuild(specPath: string, outPath: string): string {
  const spec = loadSpec(specPath);
  let bytes: Uint8Array;
  try {
    bytes = buildSharedObject(spec);
  } catch (err) {
    if (err instanceof ElfBuildError) throw new CliError(`${specPath === '-' ? '<stdin>' : specPath}: ${err.message}`, { cause: err });
    throw err;
  }
  let isDirectory = false;
  try {
    isDirectory = statSync(outPath).isDirectory();
  } catch {
    // a new file
  }
  if (isDirectory) throw new CliError(`cannot write ${outPath}: it is a directory`);
  try {
    writeFileAtomic(outPath, bytes);
  } catch (err) {
    throw new CliError(`cannot write ${outPath}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  }
  const file = readElf(bytes);
  const names = file.dynamicSymbols.filter((s) => s.name !== '').map((s) => s.name);
  const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
  return `wrote ${outPath}: ${grouped(bytes.length)} bytes, ${file.machine}, ${names.length} dynamic symbol${names.length === 1 ? '' : 's'}${names.length > 0 ? ` (${shown})` : ''}`;
}
