// arch: aarch64
// The README's quick starts run as written (from 'dlbind', here the sources); the live-library
// one picks its machine code by process.arch, so the arm64 suite runs it with aarch64 code.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

const dir = tempDir('dlbind-readme-');

test("README's quick starts run as written (from 'dlbind', here the sources)", () => {
  const readme = readFileSync('README.md', 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 3, `${blocks.length} TypeScript blocks`);
  const cwd = join(dir, 'readme');
  mkdirSync(cwd);
  const index = pathToFileURL(resolve('src/index.ts')).href;
  const outputs = blocks.map((code, i) => {
    const file = join(cwd, `block${i + 1}.mts`);
    writeFileSync(file, code.replaceAll("from 'dlbind'", `from '${index}'`));
    const r = run(process.execPath, ['--import', import.meta.resolve('tsx'), file], { cwd });
    assert.is(r.status, 0, `README block ${i + 1}:\n${code}\n${r.stderr}`);
    return r.stdout;
  });
  assert.ok(existsSync(join(cwd, 'libanswer.so')));
  assert.match(outputs[1]!, /^42\nadd\n$/);
  assert.match(outputs[2]!, /PT_LOAD X 4096n\n[\s\S]*libanswer\.so 4096n\n$/);
  assert.match(outputs[3]!, /^true true\n$/);
});

test.run();
