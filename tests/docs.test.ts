// The API reference as TypeDoc renders it (npm run docs): every export is documented (TypeDoc's
// notDocumented validation, as errors), text in angle brackets shows as text, and names such
// as ld.so are not turned into links.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run, tempDir } from './helpers/tools.js';

test('typedoc renders /proc/<pid>/fd/<n> as text and links no ld.so to http://ld.so', () => {
  const out = join(tempDir('dlbind-docs-'), 'api');
  const r = run(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', out], { timeoutMs: 300_000 });
  // typedoc.json makes validation warnings errors: an undocumented export fails this run.
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.not.match(r.stdout + r.stderr, /does not have any documentation|warning/);
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

test('an undocumented export (a constant, a field of an exported interface) fails the docs build, naming it', () => {
  // The package's entry plus two undocumented exports, with the project's TypeDoc settings.
  const dir = tempDir('dlbind-docs-probe-');
  const root = resolve('.');
  writeFileSync(
    join(dir, 'probe.mts'),
    `export * from '${join(root, 'src/index.js')}';\nexport const UNDOCUMENTED_PROBE = 1;\n/** A documented interface. */\nexport interface Probe {\n  /** Documented. */\n  a: number;\n  b: string;\n}\n`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.build.json'),
      compilerOptions: { rootDir: '/', typeRoots: [join(root, 'node_modules/@types')] },
      include: [join(dir, 'probe.mts'), join(root, 'src')],
    }),
  );
  const config = JSON.parse(readFileSync('typedoc.json', 'utf8')) as Record<string, unknown>;
  delete config.$schema;
  writeFileSync(
    join(dir, 'typedoc.json'),
    JSON.stringify({ ...config, entryPoints: [join(dir, 'probe.mts')], tsconfig: join(dir, 'tsconfig.json'), readme: 'none', out: join(dir, 'api') }),
  );
  const r = run(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--options', join(dir, 'typedoc.json')], { cwd: dir, timeoutMs: 300_000 });
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  assert.is.not(r.status, 0, out);
  const undocumented = [...out.matchAll(/(\S+) \(\w+\), defined in .* does not have any documentation/g)].map((m) => m[1]).sort();
  assert.equal(undocumented, ['Probe.b', 'UNDOCUMENTED_PROBE'], out);
});

test.run();
