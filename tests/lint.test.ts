// Biome (npm run lint) over the whole tree: lint findings and formatting both fail the test;
// and tsc (npm run typecheck) over every TypeScript file, tests included.
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from './helpers/tools.js';

const ENFORCED = ['.'];

const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
const check = (paths: string[], reporter = 'default') => run(process.execPath, [biome, 'check', `--reporter=${reporter}`, '--max-diagnostics=50', ...paths]);

test('biome check passes on the enforced files', () => {
  const r = check(ENFORCED);
  assert.is(r.status, 0, `npx biome check ${ENFORCED.join(' ')}\n${r.stdout}${r.stderr}`);
});

test('tsc type-checks src, tests, bench and examples (strict)', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.check.json']);
  assert.is(r.status, 0, `npm run typecheck\n${r.stdout}${r.stderr}`);
});

test.run();
