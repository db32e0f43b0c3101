// `node --import ./tests/helpers/loaded-modules.mjs ...` appends to the file named by
// $DLBIND_LOADED_MODULES the URL of every module the process loads: ES modules (and node:
// built-ins they import) through a load hook, CommonJS files from require.cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const out = process.env.DLBIND_LOADED_MODULES;
if (out === undefined) throw new Error('loaded-modules.mjs: set DLBIND_LOADED_MODULES to the file to append to');
register('./loaded-modules-hooks.mjs', import.meta.url, { data: { out } });
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const files = Object.keys(cache).map((f) => pathToFileURL(f).href);
  if (files.length > 0) appendFileSync(out, `${files.join('\n')}\n`);
});
