// The dlbind command as users run it: bundled by scripts/build-command.mjs (as `npm run build`
// does for dist/cli/), here into bench/out/cli/, so that a bench run never touches dist/.
import { join } from 'node:path';
import { benchDir, run } from './tools.js';

/** Bundles the command from src/ and returns its main.js, for `node main.js build ...`. */
export function buildCommandForBench(): string {
  return run(process.execPath, [join(benchDir, '..', 'scripts', 'build-command.mjs'), join(benchDir, 'out', 'cli')]).trim();
}
