// Biome (npm run lint) over the whole tree: lint findings and formatting both fail the test.
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

test.run();
