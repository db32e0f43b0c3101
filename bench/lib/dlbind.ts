// The library under test, as its users run it: src/ compiled to JavaScript
// (the ESM bundle the runner makes in bench/out/ and names in
// DLBIND_BENCH_LIBRARY). Not src/ through tsx: tsx hands the TypeScript to
// Node as CommonJS, where every imported binding is a getter call, and that
// alone more than halves the bind rate. `npm run bench -- --source` measures
// src/ through tsx all the same.
import { pathToFileURL } from 'node:url';
import type * as Library from './library-entry.js';

const built = process.env.DLBIND_BENCH_LIBRARY;
const library: typeof Library = built ? await import(pathToFileURL(built).href) : await import('./library-entry.js');

/** Where the library under test comes from, for the figures' notes. */
export const librarySource = built ? 'src/ compiled by esbuild to one ESM bundle' : 'src/ through tsx';

export type { JitLibrary } from './library-entry.js';
export const {
  DEFAULT_CAPACITY,
  RTLD_LOCAL,
  RTLD_NOW,
  SHF_WRITE,
  buildSharedObject,
  corePlan,
  cfi,
  dladdr,
  dlalloc,
  dlbind,
  dlcreate,
  dlfunc,
  dldelete,
  dlsave,
  dlsym,
  getLibc,
  readElf,
  setKernelsEnabled,
  writeFileAtomic,
} = library;
