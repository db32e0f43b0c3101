// The dlbind command's files, bundled by esbuild: `npm run build` writes them to dist/cli/, the
// bench (figure 12) to bench/out/cli/.
//
// The command starts in one CommonJS file, main.js (commander, argument parsing, errors):
// CommonJS because Node 20 loads it with less work than an ES module, and one file because
// resolving and linking dist/index.js's fifty modules (and koffi) took longer than building a
// 1,000-function object. Each subcommand is a file of its own that main.js require()s when that
// subcommand runs, so that `build` loads the writer but not the reader and `inspect` the reader
// but not the writer. The modules whose classes must be one and the same for every subcommand
// (the errors that `instanceof` tells apart) are files of their own in shared/, required by the
// others.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/** Writes the command into `outDir` (absolute, or relative to `root`): main.js, a file per subcommand, shared/. */
export async function buildCommand(root, outDir) {
  const out = resolve(root, outDir);
  const src = (file) => resolve(root, 'src', `${file}.ts`);
  const main = { source: src('cli/main'), out: join(out, 'main.js') };
  const subcommands = ['build', 'inspect-command', 'core', 'demo'].map((name) => ({ source: src(`cli/${name}`), out: join(out, `${name}.js`) }));
  const shared = ['cli/errors', 'cli/format', 'elf/errors', 'loader/errors'].map((m) => ({
    source: src(m),
    out: join(out, 'shared', `${m.replace('/', '-')}.js`),
  }));
  const ownFiles = [...subcommands, ...shared];

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
  // command has none) and node:crypto (a build-id). In the command,
  // their functions are stand-ins that load the module on their first call; a name that is not
  // a function fails the build here (esbuild: no matching export).
  const lazyBuiltins = {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter: /^node:(child_process|crypto)$/ }, (args) =>
        args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
        const real = require(args.path);
        const names = Object.keys(real).filter((k) => typeof real[k] === 'function' && /^[A-Za-z_$][\w$]*$/.test(k));
        const lines = [
          'let m;',
          `const get = () => (m ??= require(${JSON.stringify(args.path)}));`,
          ...names.map(
            (k) => `export function ${k}(...a) { return new.target === undefined ? get().${k}(...a) : Reflect.construct(get().${k}, a, new.target); }`,
          ),
        ];
        return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
      });
    },
  };

  const commanderLicense = readFileSync(join(dirname(require.resolve('commander')), 'LICENSE'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => ` * ${line}`.trimEnd())
    .join('\n');
  // commander is bundled into main.js, so its license travels with it.
  const commanderBanner = `/*!\n * This file bundles commander (https://github.com/tj/commander.js):\n *\n${commanderLicense}\n */`;
  const importMetaUrl = "const __dlbindImportMetaUrl = require('node:url').pathToFileURL(__filename).href;";
  for (const file of [main, ...ownFiles]) {
    await build({
      bundle: true,
      platform: 'node',
      target: 'node20',
      external: ['koffi'],
      logLevel: 'warning',
      legalComments: 'inline',
      format: 'cjs',
      // import() of another file of the command becomes require(): no ES module loader at all.
      supported: { 'dynamic-import': false },
      define: { 'import.meta.url': '__dlbindImportMetaUrl' },
      entryPoints: [file.source],
      outfile: file.out,
      plugins: [commandFiles(file.out), lazyBuiltins],
      banner: { js: file === main ? `${commanderBanner}\n${importMetaUrl}` : importMetaUrl },
    });
  }
  // The package is "type": "module"; these files are CommonJS.
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  chmodSync(main.out, 0o755);
  return main.out;
}

// `node scripts/build-command.mjs OUTDIR` (the bench's way in).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const outDir = process.argv[2];
  if (outDir === undefined) throw new Error('usage: node scripts/build-command.mjs OUTDIR');
  console.log(await buildCommand(resolve(dirname(new URL(import.meta.url).pathname), '..'), resolve(outDir)));
}
