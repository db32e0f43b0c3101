// Biome (npm run lint) over the tree. The files of the command, the examples, the packaging
// and these tests must pass; the rest of the tree is reported until it has been formatted
// once, after which ENFORCED becomes the whole tree (['.']).
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from './helpers/tools.js';

const ENFORCED = ['src', 'examples', 'scripts', 'tests', 'biome.json', 'typedoc.json', 'tsconfig.build.json', 'package.json'];

const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
const check = (paths: string[], reporter = 'default') => run(process.execPath, [biome, 'check', `--reporter=${reporter}`, '--max-diagnostics=50', ...paths]);

test('biome check passes on the enforced files', () => {
  const r = check(ENFORCED);
  assert.is(r.status, 0, `npx biome check ${ENFORCED.join(' ')}\n${r.stdout}${r.stderr}`);
});

test('the rest of the tree: reported, not enforced yet', () => {
  const r = check(['.'], 'summary');
  const out = `${r.stdout}${r.stderr}`;
  const count = (what: string) => new RegExp(`^Found (\\d+) ${what}`, 'm').exec(out)?.[1] ?? '0';
  const files = [...out.matchAll(/^\s+- (\S+) \((.*)\)$/gm)].map((m) => `${m[1]} (${m[2]})`);
  console.log(`  whole tree: ${count('error')} errors, ${count('warning')} warnings${files.length ? `; lint findings in ${files.join(', ')}` : ''}`);
  assert.ok(r.status === 0 || r.status === 1, out);
});

test.run();
