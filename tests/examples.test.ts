// Every example in examples/ runs and does what its comment says. Examples that need gcc
// or gdb say so and are checked for saying so when the tool is missing.
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compile, evaluate, parse } from '../examples/expression-compiler.js';
import { dlcreate, dlfunc } from '../src/index.js';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

const dir = tempDir('dlbind-examples-');
const x64 = process.arch === 'x64';
const haveCc = have('cc') || have('gcc') || have('clang');

function example(file: string, ...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', join('examples', file), ...args], { timeoutMs: 120_000 });
}

const covered = new Set<string>();

test('expression-compiler: (a + b) * c is lea eax,[rdi+rsi]; imul eax,edx; ret, bound, called and named', () => {
  covered.add('expression-compiler.ts');
  const r = example('expression-compiler.ts');
  assert.is(r.status, 0, r.stderr);
  if (!x64) {
    assert.match(r.stdout, /emits x86_64 code/);
    return;
  }
  assert.match(r.stdout, /expr0 = \(a \+ b\) \* c\n\s+7 bytes at 0x[0-9a-f]+: 8d 04 37 0f af c2 c3\n\s+lea eax, \[rdi\+rsi\]\n\s+imul eax, edx\n\s+ret\n/);
  assert.match(r.stdout, /expr0\(1, 2, 3\) = 9/);
  assert.match(r.stdout, /dladdr\(last byte\) -> expr0 in \/proc\/\d+\/fd\/\d+/);
  assert.match(r.stdout, /4 expressions compiled, bound and checked/);
  const bad = example('expression-compiler.ts', 'a +');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /unexpected end in 'a \+'/);
});

test('expression-compiler: its listing is what objdump disassembles', () => {
  if (!x64 || !have('objdump')) {
    skipBecause('objdump comparison', x64 ? 'objdump is not installed' : 'x86_64 only');
    return;
  }
  const sources = ['(a + b) * c', 'a * a + b * b - c', '(a - 1) * (b + 2) * (c - 3)', '7 * (a + b + c) - 100', 'c - (a - b)', '2147483647 * c'];
  for (const source of sources) {
    const { code, listing } = compile(parse(source));
    const file = join(dir, 'expr.bin');
    writeFileSync(file, code);
    const out = run('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel', file]).stdout;
    const got = out
      .split('\n')
      .map((l) => /^\s+[0-9a-f]+:\t(?:[0-9a-f]{2} )+\s*\t(.*)$/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined)
      .map((x) =>
        x
          .replace(/\s+/g, ' ')
          .replace(/0x([0-9a-f]+)/g, (_, h) => String(Number.parseInt(h, 16)))
          .replace('*1]', ']')
          .trim(),
      );
    // objdump writes 'lea eax,[rdi+rsi*1]' where the listing has 'lea eax, [rdi+rsi]'.
    assert.equal(
      got,
      listing.map((l) => l.replace(/, /g, ',')),
      source,
    );
  }
});

test('expression-compiler: random expressions compute what the expression says (fast-check)', () => {
  if (!x64) {
    skipBecause('random expressions', 'the compiler emits x86_64 code');
    return;
  }
  const leaf = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 0x7fffffff }).map(String));
  const expr = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(tie('e'), fc.constantFrom('+', '-', '*'), tie('e')).map(([l, op, r]) => `(${l} ${op} ${r})`),
    ),
  })).e;
  const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const lib = dlcreate(undefined, { maxSymbols: 1024 });
  let n = 0;
  try {
    fc.assert(
      fc.property(expr, int, int, int, (source, a, b, c) => {
        const ast = parse(source);
        const name = `e${n++}`;
        const f = dlfunc(lib.addFunction(name, compile(ast).code), `int ${name}(int a, int b, int c)`);
        const ok = f(a, b, c) === evaluate(ast, { a, b, c });
        lib.unbind(name);
        return ok;
      }),
      { numRuns: 300, seed: 7 },
    );
  } finally {
    lib.delete();
  }
});

test('offline-shared-object: writes a .so that a C program links against', () => {
  covered.add('offline-shared-object.ts');
  const out = join(dir, 'offline');
  const r = example('offline-shared-object.ts', out);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /readElf: ET_DYN, (x86_64|aarch64), soname libanswer\.so/);
  assert.match(r.stdout, /first_prime\s+STT_OBJECT/);
  if (!haveCc) {
    assert.match(r.stdout, /no C compiler/);
    skipBecause('linking main.c', 'no C compiler');
    return;
  }
  for (const line of [
    'answer()       = 42',
    'add(40, 2)     = 42',
    'greeting       = "hello from a library no compiler built"',
    'primes[4]      = 11',
    '*first_prime   = 2',
    'counter        = 3',
  ]) {
    assert.ok(r.stdout.includes(line), line);
  }
});

test('gdb-session: gdb stops at a pending breakpoint on a JIT function and info symbol names it', () => {
  covered.add('gdb-session.ts');
  covered.add('gdb-target.ts');
  const r = example('gdb-session.ts');
  if (!have('gdb')) {
    assert.is(r.status, 0);
    assert.match(r.stdout, /skipped: gdb is not installed/);
    skipBecause('gdb session', 'gdb is not installed');
    return;
  }
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^jit_square in section \.text of \/proc\/\d+\/fd\/\d+$/m);
  assert.match(r.stdout, /ok {4}info symbol names the JIT function/);
  assert.match(r.stdout, /jit_square\(7\) = 49/);
});

test('iced-jit: iced-x86 encodes at the dlalloc address, a JIT function calls another, iced and objdump agree', () => {
  covered.add('iced-jit.ts');
  const r = example('iced-jit.ts', '10');
  assert.is(r.status, 0, r.stdout + r.stderr);
  if (!x64) {
    assert.match(r.stdout, /iced-x86 emits x86_64 code/);
    skipBecause('iced-x86 JIT', 'x86_64 only');
    return;
  }
  const square = /^square: 6 bytes at (0x[0-9a-f]+); dlsym finds it there$/m.exec(r.stdout)?.[1];
  assert.ok(square !== undefined, r.stdout);
  assert.match(r.stdout, /^sum_squares: \d+ bytes at 0x[0-9a-f]+; dlsym finds it there$/m);
  // The call was encoded for where sum_squares sits: its rel32 reaches square.
  assert.match(r.stdout, new RegExp(`^  call 0*${square.slice(2).toUpperCase()}h\\s`, 'm'));
  assert.match(r.stdout, /^sum_squares\(10\) = 385 \(expected 385\)$/m);
  assert.match(r.stdout, /^dladdr\(call site\) -> sum_squares$/m);
  if (!have('objdump')) {
    skipBecause('iced-x86 next to objdump', 'objdump is not installed');
    return;
  }
  const rows = r.stdout.split('\n').filter((l) => /^ {2}[a-z]/.test(l) && !l.includes('iced-x86 decoder'));
  assert.ok(rows.length >= 20, rows.join('\n'));
  for (const row of rows) {
    const [ours, theirs] = row.trim().split(/\s{2,}/);
    // Same mnemonic and operands; only the way a branch target is written differs.
    assert.is(ours!.split(' ')[0], theirs!.split(' ')[0], row);
    if (!/^(j|call)/.test(ours!)) assert.is(ours, theirs, row);
  }
});

test('plan-then-build: a call patched between planSharedObject and buildFromPlan runs after dlopen', () => {
  covered.add('plan-then-build.ts');
  const r = example('plan-then-build.ts');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^planned: twice_answer at \.text\+0, answer at \.text\+16; the call at \+\d+ patched$/m);
  assert.match(r.stdout, /symbols twice_answer, answer$/m);
  // 84 only if the call reaches answer (42): an unpatched call would not return 42 to double.
  assert.match(r.stdout, /^twice_answer\(\) = 84$/m);
});

test('the examples type-check (strict, as a user of the sources would compile them)', () => {
  const files = readdirSync('examples')
    .filter((f) => f.endsWith('.ts'))
    .map((f) => resolve('examples', f));
  // 'dlbind' is the sources here through tsconfig.json's paths (the package test compiles the
  // examples against the packed declarations instead).
  const config = join(dir, 'tsconfig.examples.json');
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        noEmit: true,
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'es2024.string'],
        types: ['node'],
        typeRoots: [resolve('node_modules/@types')],
        skipLibCheck: true,
        verbatimModuleSyntax: true,
        paths: { dlbind: [resolve('src/index.ts')] },
      },
      files,
    }),
  );
  const r = run(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', config]);
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test('every example is run above', () => {
  const all = readdirSync('examples').filter((f) => f.endsWith('.ts'));
  assert.equal(
    all.filter((f) => !covered.has(f)),
    [],
  );
});

test.run();
