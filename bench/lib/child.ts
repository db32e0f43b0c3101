// Runs one figure in a process of its own (so that no figure inherits another's
// heap, loaded objects or peak RSS) and writes its result as JSON.
// Usage: node --expose-gc --import tsx bench/lib/child.ts FIGURE.ts CONTEXT.json RESULT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context, FigureResult } from './figure.js';

const [figureFile, contextFile, resultFile] = process.argv.slice(2);
if (figureFile === undefined || contextFile === undefined || resultFile === undefined) {
  throw new Error('usage: child.ts FIGURE.ts CONTEXT.json RESULT.json');
}
const options = JSON.parse(readFileSync(contextFile, 'utf8')) as Omit<Context, 'log'>;
const started = Date.now();
const context: Context = {
  ...options,
  log: (message) => process.stdout.write(`    [${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}\n`),
};
const mod = (await import(pathToFileURL(resolve(figureFile)).href)) as { run(ctx: Context): Promise<FigureResult> | FigureResult };
const result = await mod.run(context);
writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
// Live libraries and koffi keep handles; the figure is done.
process.exit(0);
