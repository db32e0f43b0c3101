#!/usr/bin/env node
// npm run build: dist/ for the published package.
//   dist/**/*.js, *.d.ts   the library, compiled by tsc (ESM, with declarations)
//   dist/index.cjs         the library bundled as CommonJS by esbuild, for require() on
//                          Node before 20.19 (newer Node loads the ESM through 'module-sync')
//   dist/**/*.d.cts        the declarations again for require() users (TypeScript "module":
//                          "node16"/"nodenext" in a CommonJS project), importing each other as .cjs
//   dist/cli/main.js       the dlbind command, bundled with commander by esbuild so that
//                          koffi stays the only run-time dependency (CommonJS, like the other
//                          files of dist/cli/: a subcommand each, loaded when it runs)
//   dist/examples/*.js     examples/*.ts compiled, for plain node in an installed package
//                          (they import 'dlbind', which there is the package itself)
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildCommand } from './build-command.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
rmSync('dist', { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

// A .d.ts in this ESM package describes an ES module; require() users need declarations of a
// CommonJS one, which TypeScript takes from .d.cts files (and './x.cjs' resolves to './x.d.cts').
for (const entry of readdirSync('dist', { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = join(entry.parentPath ?? entry.path, entry.name);
  const text = readFileSync(file, 'utf8')
    .replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*)\.js\2/g, '$1$2$3.cjs$2')
    // koffi's declarations are an ES module's: a CommonJS file names the mode it imports them in.
    .replace(/import\((['"])koffi\1\)/g, "import('koffi', { with: { 'resolution-mode': 'import' } })");
  writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), text);
}

// The examples are type-checked against the declarations just written (tsconfig.examples.json
// resolves 'dlbind' as the package itself, not as the sources), as a user's project would be.
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.examples.json'], { stdio: 'inherit' });
for (const f of readdirSync('examples')) if (!f.endsWith('.ts') && !f.endsWith('.md')) copyFileSync(join('examples', f), join('dist', 'examples', f));

const common = { bundle: true, platform: 'node', target: 'node20', external: ['koffi'], logLevel: 'warning', legalComments: 'inline' };

await buildCommand(root, 'dist/cli');

await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.cjs',
  format: 'cjs',
  define: { 'import.meta.url': '__dlbindImportMetaUrl' },
  banner: { js: "const __dlbindImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
console.log('built dist/ (library, declarations, CommonJS bundle, dlbind command)');
