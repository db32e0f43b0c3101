// The API reference as TypeDoc renders it (npm run docs): text in angle brackets shows as
// text, and names such as ld.so are not turned into links.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, tempDir } from './helpers/tools.js';

test('typedoc renders /proc/<pid>/fd/<n> as text and links no ld.so to http://ld.so', () => {
  const out = join(tempDir('dlbind-docs-'), 'api');
  const r = run(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', out], { timeoutMs: 300_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const pages = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.html'));
  const html = new Map(pages.map((p) => [p, readFileSync(join(out, p), 'utf8')]));
  const jit = html.get(join('classes', 'JitLibrary.html'));
  assert.ok(jit !== undefined, pages.join(' '));
  assert.ok(jit.includes('/proc/&lt;pid&gt;/fd/&lt;n&gt;'), 'the path getter shows its /proc/<pid>/fd/<n>');
  for (const [page, text] of html) {
    assert.not.ok(text.includes('http://ld.so'), `${page} links ld.so`);
    assert.not.ok(/\/proc\/<pid>/.test(text), `${page} has a raw <pid> tag`);
  }
});

test.run();
