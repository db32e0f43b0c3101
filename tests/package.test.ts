// The published package: npm run build, npm pack, then install the tarball into an empty
// project and use it there as a user would: import, require, types, and `npx dlbind demo`.
// The build runs in a copy of the sources, so that the work tree's dist/ is never touched.
import { cpSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';

const root = resolve('.');
const work = tempDir('dlbind-package-');
const source = join(work, 'source');
const consumer = join(work, 'consumer');
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** The environment without the variables an outer `npm test` sets: npm_config_local_prefix would send installs into this repository. */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry', 'npm_config_cafile']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!(k.toLowerCase().startsWith('npm_') && !keep.has(k.toLowerCase())) && k !== 'INIT_CWD') env[k] = v;
  return env;
}
const env = cleanEnv();
const npm = (args: string[], cwd: string) => mustRun('npm', args, { cwd, env, timeoutMs: 120_000 });
const node = (args: string[], cwd = consumer) => mustRun(process.execPath, args, { cwd, env, timeoutMs: 60_000 });

// The machine code of `int answer(void) { return 42; }`.
const ANSWER = process.arch === 'arm64' ? '[0x52800540, 0xd65f03c0]' : '[0xb8, 0x2a, 0, 0, 0, 0xc3]';
const toBytes = process.arch === 'arm64' ? (a: string) => `new Uint8Array(Uint32Array.from(${a}).buffer)` : (a: string) => `Uint8Array.from(${a})`;

let tarball = '';

test('npm run build and npm pack give a tarball with the library, its declarations, the CJS bundle and the command', () => {
  mkdirSync(source);
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.examples.json', 'README.md', 'src', 'scripts', 'gdb', 'examples'])
    cpSync(join(root, f), join(source, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
  npm(['run', 'build'], source);
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], source).stdout) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(work, packed[0]!.filename);
  const files = packed[0]!.files.map((f) => f.path);
  for (const f of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/index.d.cts',
    'dist/api/jit.d.cts',
    'dist/index.cjs',
    'dist/cli/main.js',
    'dist/api/jit.d.ts',
    'dist/elf/reader.js',
    'gdb/dlbind.py',
    'examples/README.md',
    'examples/gdb-session.gdb',
    'dist/examples/gdb-session.gdb',
  ]) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  // Every example ships as its source and compiled for plain node.
  for (const f of readdirSync(join(root, 'examples')).filter((e) => e.endsWith('.ts'))) {
    assert.ok(files.includes(`examples/${f}`), `examples/${f} is packed`);
    assert.ok(files.includes(`dist/examples/${f.replace(/\.ts$/, '.js')}`), `dist/examples/${f.replace(/\.ts$/, '.js')} is packed`);
  }
  for (const f of files) assert.ok(/^(package\.json|README\.md|LICENSE|dist\/|examples\/|gdb\/dlbind\.py$)/.test(f), `${f} should not be packed`);
  // The declarations hide internals (stripInternal): the debugger hooks' fields and the loader object.
  const jit = readFileSync(join(source, 'dist/api/jit.d.ts'), 'utf8');
  for (const internal of ['announceQueued', 'announceLinkMap', 'liveObject', 'holds(']) assert.not.ok(jit.includes(internal), `${internal} in jit.d.ts`);
  assert.ok(jit.includes('addFunction('));
  // The command is bundled: it needs nothing at run time but its own files in dist/cli/, Node's
  // built-ins and koffi (for the demo).
  const cli = readFileSync(join(source, 'dist/cli/main.js'), 'utf8');
  assert.ok(cli.startsWith('#!/usr/bin/env node\n'));
  const cliFiles = files.filter((f) => f.startsWith('dist/cli/') && f.endsWith('.js'));
  assert.ok(cliFiles.length > 1, cliFiles.join(' '));
  for (const f of cliFiles) {
    const text = readFileSync(join(source, f), 'utf8');
    assert.not.match(text, /(from |require\()["']commander["']/, f);
    const specifiers = [...text.matchAll(/(?:^import .* from |\brequire\()["']([^"']+)["']/gm)].map((m) => m[1]!);
    for (const i of specifiers) {
      const own = i.startsWith('.') && files.includes(join(dirname(f), i));
      assert.ok(own || i.startsWith('node:') || i === 'koffi', `${f} imports ${i}`);
    }
  }
});

test('installed into an empty project: koffi is the only dependency', () => {
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  npm(['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], consumer);
  const installed = JSON.parse(readFileSync(join(consumer, 'node_modules/dlbind/package.json'), 'utf8'));
  assert.equal(Object.keys(installed.dependencies), ['koffi']);
  const lock = JSON.parse(readFileSync(join(consumer, 'package-lock.json'), 'utf8'));
  // koffi ships its native binaries as optional per-platform packages.
  const others = Object.keys(lock.packages).filter((p) => !['', 'node_modules/dlbind', 'node_modules/koffi'].includes(p));
  for (const p of others) assert.match(p, /^node_modules\/@koromix\/koffi-[a-z0-9]+-[a-z0-9]+$/);
});

test("import { dlcreate } from 'dlbind' creates a library and calls a JIT function", () => {
  writeFileSync(
    join(consumer, 'esm.mjs'),
    `import { dlcreate, dlsym, dlfunc, dladdr, readElf, buildSharedObject } from 'dlbind';
const lib = dlcreate();
const addr = lib.addFunction('answer', ${toBytes(ANSWER)});
const fn = dlfunc(dlsym(lib, 'answer'), 'int answer(void)');
const so = readElf(buildSharedObject({ symbols: [{ name: 'f', section: 'text', bytes: [0xc3] }] }));
console.log(JSON.stringify({ result: fn(), name: dladdr(addr).sname, symbol: so.lookup('f').name, deleted: lib.delete() }));
`,
  );
  const out = JSON.parse(node(['esm.mjs']).stdout);
  assert.equal(out, { result: 42, name: 'answer', symbol: 'f', deleted: true });
});

test("require('dlbind') works: the ESM through 'module-sync' on Node 20.19+, the CommonJS bundle before", () => {
  writeFileSync(
    join(consumer, 'cjs.cjs'),
    `const { dlcreate, dlfunc, DlbindError, ElfFormatError, readElf } = require('dlbind');
const lib = dlcreate();
const fn = dlfunc(lib.addFunction('answer', ${toBytes(ANSWER)}), 'int answer(void)');
let code;
try { lib.alloc(0, 0); } catch (err) { code = err instanceof DlbindError ? err.code : 'not a DlbindError'; }
let format;
try { readElf(new Uint8Array(64)); } catch (err) { format = err instanceof ElfFormatError; }
console.log(JSON.stringify({ resolved: require.resolve('dlbind').split('/').slice(-2).join('/'), result: fn(), code, format }));
lib.delete();
`,
  );
  const expected = { result: 42, code: 'EINVAL', format: true };
  const modern = JSON.parse(node(['cjs.cjs']).stdout);
  const requireEsm = (process as { features?: { require_module?: boolean } }).features?.require_module === true;
  assert.equal(modern, { ...expected, resolved: requireEsm ? 'dist/index.js' : 'dist/index.cjs' });
  // What Node before 20.19 does: no require(esm), so no 'module-sync'; the CommonJS bundle answers.
  if (requireEsm) {
    const old = JSON.parse(node(['--no-experimental-require-module', 'cjs.cjs']).stdout);
    assert.equal(old, { ...expected, resolved: 'dist/index.cjs' });
  } else {
    skipBecause('the ESM through require', `Node ${process.version} has no require(esm)`);
  }
});

test('the declarations type-check a TypeScript user (module nodenext, strict)', () => {
  writeFileSync(
    join(consumer, 'use.ts'),
    `import { type JitLibrary, type SharedObjectSpec, dlcreate, readElf, elf, DlbindError } from 'dlbind';
const spec: SharedObjectSpec = { soname: 'libx.so', symbols: [{ name: 'x', section: 'rodata', bytes: [1] }] };
const lib: JitLibrary = dlcreate(undefined, { maxSymbols: 16 });
const addr: bigint = lib.addData('x', new Uint8Array(1));
const code: DlbindError['code'] = 'EPLATFORM';
const name: string = elf.PT.name(readElf(new Uint8Array()).segments[0]!.p_type);
export { spec, addr, code, name };
`,
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: [] },
      files: ['use.ts'],
    }),
  );
  const r = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: consumer, env });
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test('both copies in one process (the ESM by import, the CommonJS bundle by require) work, and share libraries', () => {
  writeFileSync(
    join(consumer, 'both.mjs'),
    `import { createRequire } from 'node:module';
import * as esm from 'dlbind';
const cjs = createRequire(import.meta.url)('dlbind');
const a = esm.dlcreate();
const b = cjs.dlcreate();
const fa = esm.dlfunc(a.addFunction('answer', ${toBytes(ANSWER)}), 'int answer(void)');
const fb = cjs.dlfunc(b.addFunction('answer', ${toBytes(ANSWER)}), 'int answer(void)');
// Each copy's dladdr binds libc's Dl_info: no type name may clash between them.
const names = [esm.dladdr(esm.dlsym(b, 'answer')).sname, cjs.dladdr(cjs.dlsym(a, 'answer')).sname];
// A library from one copy is one in the other.
const block = cjs.dlalloc(a, 16, cjs.SHF_WRITE);
console.log(JSON.stringify({ distinct: esm.dlcreate !== cjs.dlcreate, results: [fa(), fb()], names, inA: esm.dladdr(block) !== null, deleted: [a.delete(), b.delete()] }));
`,
  );
  // Without require(esm) (Node before 20.19, or this flag), require() loads the CommonJS bundle: two copies.
  const out = JSON.parse(node(['--no-experimental-require-module', 'both.mjs']).stdout);
  assert.equal(out, { distinct: true, results: [42, 42], names: ['answer', 'answer'], inA: true, deleted: [true, true] });
});

test('the declarations type-check a CommonJS TypeScript project (module node16, strict): typed calls, .d.cts', () => {
  const cjsDir = join(consumer, 'cjs-project');
  mkdirSync(cjsDir);
  symlinkSync(join(consumer, 'node_modules'), join(cjsDir, 'node_modules'), 'dir');
  writeFileSync(join(cjsDir, 'package.json'), JSON.stringify({ name: 'cjs-project', version: '1.0.0', private: true, type: 'commonjs' }));
  writeFileSync(
    join(cjsDir, 'use.ts'),
    `import { type JitLibrary, dlcreate, dlfunc, DlbindError } from 'dlbind';
const lib: JitLibrary = dlcreate();
const add = dlfunc<(a: number, b: number) => number>(lib.addFunction('answer', ${ANSWER}), 'int add(int a, int b)');
const r: number = add(1, 2);
const id = lib.func<(x: bigint) => bigint>(0n, 'int64_t id(int64_t)');
const code: DlbindError['code'] = 'EFREED';
export { r, id, code };
`,
  );
  writeFileSync(
    join(cjsDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, types: [] },
      files: ['use.ts'],
    }),
  );
  const r = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: cjsDir, env });
  assert.is(r.status, 0, r.stdout + r.stderr);
  // The same file as an ES module (module nodenext) compiles too: the strict typed call is not a CommonJS accident.
  writeFileSync(join(consumer, 'typed.ts'), readFileSync(join(cjsDir, 'use.ts'), 'utf8'));
  writeFileSync(
    join(consumer, 'tsconfig-typed.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: [] },
      files: ['typed.ts'],
    }),
  );
  const esm = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig-typed.json'], { cwd: consumer, env });
  assert.is(esm.status, 0, esm.stdout + esm.stderr);
});

test('every example runs with plain node from the installed package (iced-x86 installed next to it, as its README says)', () => {
  // iced-x86 is the one example's own dependency (a dev dependency of dlbind, not a dependency).
  const iced = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['iced-x86']!;
  npm(['install', `iced-x86@${iced}`, '--prefer-offline', '--no-audit', '--no-fund', '--no-save'], consumer);
  const dir = join(consumer, 'node_modules/dlbind/dist/examples');
  // What each example prints when it did its work (or says why it could not, on this machine).
  const x64 = process.arch === 'x64';
  const haveCc = have('cc') || have('gcc') || have('clang');
  const expected: Record<string, RegExp> = {
    'expression-compiler.js': x64 ? /4 expressions compiled, bound and checked/ : /emits x86_64 code/,
    'offline-shared-object.js': haveCc ? /answer\(\)\s+= 42/ : /no C compiler/,
    'gdb-session.js': have('gdb') ? /ok {4}info symbol names the JIT function/ : /skipped: gdb is not installed/,
    'gdb-target.js': /jit_square\(7\) = 49/,
    'iced-jit.js': x64 ? /^sum_squares\(10\) = 385 \(expected 385\)$/m : /iced-x86 emits x86_64 code/,
    'plan-then-build.js': /^twice_answer\(\) = 84$/m,
  };
  const shipped = readdirSync(dir).filter((f) => f.endsWith('.js'));
  assert.equal(shipped.sort(), Object.keys(expected).sort(), 'a new example needs its line here');
  for (const f of shipped) {
    const r = run(process.execPath, [join(dir, f), ...(f === 'iced-jit.js' ? ['10'] : [])], { cwd: consumer, env, timeoutMs: 120_000 });
    assert.is(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, expected[f]!, `${f}: ${r.stdout}`);
  }
});

test('the installed command: build loads the writer but not the reader, inspect the reader but not the writer, neither koffi', () => {
  const bin = join(consumer, 'node_modules/dlbind/dist/cli/main.js');
  writeFileSync(join(consumer, 'one.json'), JSON.stringify({ symbols: [{ name: 'answer', section: 'text', bytes: 'b8 2a 00 00 00 c3' }] }));
  /** What one run of the command loaded: the text of each file of the package, and whether koffi was among them. */
  const loaded = (args: string[]) => {
    const record = join(work, 'loaded.txt');
    writeFileSync(record, '');
    const r = mustRun(process.execPath, ['--import', join(root, 'tests/helpers/loaded-modules.mjs'), bin, ...args], {
      cwd: consumer,
      env: { ...env, DLBIND_LOADED_MODULES: record },
    });
    const urls = readFileSync(record, 'utf8').split('\n');
    const own = [...new Set(urls.filter((u) => u.includes('/node_modules/dlbind/')))];
    return { out: r.stdout, text: own.map((u) => readFileSync(new URL(u), 'utf8')).join('\n'), koffi: urls.some((u) => u.includes('/koffi/')), own };
  };
  const build = loaded(['build', 'one.json', '-o', 'libone.so']);
  assert.match(build.out, /^wrote libone\.so: [\d,]+ bytes, x86_64, 1 dynamic symbol \(answer\)$/m);
  assert.ok(build.text.includes('function planSharedObject('), `build loads the writer: ${build.own.join(' ')}`);
  assert.not.ok(build.text.includes('function readElf('), `build loads the reader: ${build.own.join(' ')}`);
  assert.not.ok(build.koffi, 'build loads koffi');
  const inspect = loaded(['inspect', 'libone.so', '--dyn-syms']);
  assert.match(inspect.out, /STT_FUNC\s+STB_GLOBAL\s+STV_DEFAULT\s+\d+\s+answer$/m);
  assert.ok(inspect.text.includes('function readElf('), `inspect loads the reader: ${inspect.own.join(' ')}`);
  assert.not.ok(inspect.text.includes('function planSharedObject('), `inspect loads the writer: ${inspect.own.join(' ')}`);
  assert.not.ok(inspect.koffi, 'inspect loads koffi');
});

test('npx dlbind --version and npx dlbind demo run the bundled command', () => {
  assert.is(npm(['exec', '--offline', '--', 'dlbind', '--version'], consumer).stdout.trim(), version);
  const r = run('npx', ['--offline', 'dlbind', 'demo'], { cwd: consumer, env, timeoutMs: 60_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /add\(2, 40\)\s+42/);
  assert.match(r.stdout, /dldelete\(\) unloaded the library/);
  if (!have('cc') && !have('gcc') && !have('clang')) assert.match(r.stdout, /skipped: no C compiler/);
});

test.run();
