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
import { chmodSync, copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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

const commanderLicense = readFileSync(join(dirname(createRequire(import.meta.url).resolve('commander')), 'LICENSE'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => ` * ${line}`.trimEnd())
  .join('\n');

const common = { bundle: true, platform: 'node', target: 'node20', external: ['koffi'], logLevel: 'warning', legalComments: 'inline' };

// The command starts in one CommonJS file, dist/cli/main.js (commander, argument parsing,
// errors): CommonJS because Node 20 loads it with less work than an ES module, and one file
// because resolving and linking dist/index.js's fifty modules (and koffi) took longer than
// building a 1,000-function object. Each subcommand is a file of its own that main.js
// require()s when that subcommand runs, so that `build` loads the writer but not the reader and
// `inspect` the reader but not the writer. The modules whose classes must be one and the same
// for every subcommand (the errors that `instanceof` tells apart) are files of their own in
// dist/cli/shared/, required by the others.
const cli = (file) => resolve(root, 'src', file);
const SUBCOMMANDS = ['build', 'inspect-command', 'core', 'demo'].map((name) => ({ source: cli(`cli/${name}.ts`), out: `dist/cli/${name}.js` }));
const SHARED = ['cli/errors', 'cli/format', 'elf/errors', 'loader/errors'].map((m) => ({
  source: cli(`${m}.ts`),
  out: `dist/cli/shared/${m.replace('/', '-')}.js`,
}));
const ownFiles = [...SUBCOMMANDS, ...SHARED];

/** Imports of the other files of the command stay imports (require() once bundled as CommonJS). */
const commandFiles = (self) => ({
  name: 'command-files',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = ownFiles.find((f) => f.source === resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')));
      if (target === undefined || target.out === self) return undefined;
      const path = relative(dirname(self), target.out);
      return { path: path.startsWith('.') ? path : `./${path}`, external: true };
    });
  },
});

// Loading some of Node's own modules costs more than the work a short command does:
// node:child_process (which commander requires for subcommands that are programs, and this
// command has none) and node:crypto (a temporary file's name, a build-id). In the command, their
// functions are stand-ins that load the module on their first call; a name that is not a
// function fails the build here (esbuild: no matching export).
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:(child_process|crypto)$/ }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const real = createRequire(import.meta.url)(args.path);
      const names = Object.keys(real).filter((k) => typeof real[k] === 'function' && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [
        `let m;`,
        `const get = () => (m ??= require(${JSON.stringify(args.path)}));`,
        ...names.map(
          (k) => `export function ${k}(...a) { return new.target === undefined ? get().${k}(...a) : Reflect.construct(get().${k}, a, new.target); }`,
        ),
      ];
      return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
    });
  },
};

const commonjs = {
  ...common,
  format: 'cjs',
  // import() of another file of the command becomes require(): no ES module loader at all.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__dlbindImportMetaUrl' },
};
const importMetaUrl = "const __dlbindImportMetaUrl = require('node:url').pathToFileURL(__filename).href;";
// commander is bundled into main.js, so its license travels with it.
const commanderBanner = `/*!\n * This file bundles commander (https://github.com/tj/commander.js):\n *\n${commanderLicense}\n */`;
for (const { source, out } of [{ source: cli('cli/main.ts'), out: 'dist/cli/main.js' }, ...ownFiles]) {
  await build({
    ...commonjs,
    entryPoints: [source],
    outfile: out,
    plugins: [commandFiles(out), lazyBuiltins],
    banner: { js: out === 'dist/cli/main.js' ? `${commanderBanner}\n${importMetaUrl}` : importMetaUrl },
  });
}
// The package is "type": "module"; these files are CommonJS.
writeFileSync('dist/cli/package.json', `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
chmodSync('dist/cli/main.js', 0o755);

await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.cjs',
  format: 'cjs',
  define: { 'import.meta.url': '__dlbindImportMetaUrl' },
  banner: { js: "const __dlbindImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
console.log('built dist/ (library, declarations, CommonJS bundle, dlbind command)');
