// The dlbind command: demo, build, inspect, help and version, and how it reports bad input.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { locateJsonError } from '../src/cli/json.js';
import { run as runCli } from '../src/cli/program.js';
import { readElf } from '../src/index.js';
import { simulatePlatform } from '../src/loader/platform.js';
import { have, run, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

const dir = tempDir('dlbind-cli-');
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** Runs the command in this process; returns its exit code and what it wrote. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** A failure is one line on stderr, exit code 1, and no stack trace. */
function assertOneLineFailure(r: { code: number; out: string; err: string }, pattern: RegExp): void {
  assert.is(r.code, 1, r.err);
  assert.is(r.err.trimEnd().split('\n').length, 1, `more than one line: ${r.err}`);
  assert.not.match(r.err, /\n\s+at /);
  assert.match(r.err, /^dlbind: /);
  assert.match(r.err, pattern);
}

function writeSpec(name: string, spec: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof spec === 'string' ? spec : JSON.stringify(spec, null, 2));
  return path;
}

test('--help lists the commands, --version prints the package version', async () => {
  const help = await cli('--help');
  assert.is(help.code, 0);
  for (const c of ['demo', 'build', 'inspect', '--version', '--debug']) assert.ok(help.out.includes(c), c);
  const v = await cli('--version');
  assert.is(v.code, 0);
  assert.is(v.out.trim(), version);
  const b = await cli('build', '--help');
  assert.is(b.code, 0);
  assert.match(b.out, /--output <file>/);
  assert.match(b.out, /base64/);
});

test('usage errors: unknown command, missing argument or option', async () => {
  for (const argv of [['frob'], ['build'], ['build', 'x.json'], ['inspect']]) {
    const r = await cli(...argv);
    assert.is(r.code, 1, argv.join(' '));
    assert.match(r.err, /^dlbind: error: /, r.err);
  }
});

test('build: bytes as hex, arrays, {hex}, {base64} and {file}; inspect reads them back', async () => {
  writeFileSync(join(dir, 'blob.bin'), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const spec = writeSpec('spec.json', {
    $comment: 'keys starting with $ are comments',
    soname: 'libanswer.so',
    symbols: [
      { name: 'answer', section: 'text', bytes: 'b8 2a 00 00 00 c3' },
      { name: 'ret', section: 'text', bytes: { hex: 'C3' }, '//': 'comments also inside a symbol' },
      { name: 'table', section: 'rodata', bytes: { base64: 'AQIDBA==' } },
      { name: 'array', section: 'rodata', bytes: [9, 8, 7] },
      { name: 'blob', section: 'data', bytes: { file: 'blob.bin' } },
      { name: 'ptr', section: 'data', size: 8 },
      { name: 'counter', section: 'bss', size: 16 },
    ],
    pointers: [{ symbol: 'ptr', target: 'table' }],
  });
  const out = join(dir, 'libanswer.so');
  const r = await cli('build', spec, '-o', out);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /wrote .*libanswer\.so: [\d,]+ bytes, x86_64, 7 dynamic symbols/);
  const bytes = readFileSync(out);
  const file = readElf(bytes);
  assert.is(file.soname, 'libanswer.so');
  const contents = (name: string, n: number): number[] => {
    const s = file.lookup(name)!;
    return [...bytes.subarray(Number(s.st_value), Number(s.st_value) + n)];
  };
  assert.equal(contents('answer', 6), [0xb8, 0x2a, 0, 0, 0, 0xc3]);
  assert.equal(contents('ret', 1), [0xc3]);
  assert.equal(contents('table', 4), [1, 2, 3, 4]);
  assert.equal(contents('array', 3), [9, 8, 7]);
  assert.equal(contents('blob', 8), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.is(file.lookup('counter')!.st_size, 16n);
  assert.is(file.relocations.length, 1);

  const text = await cli('inspect', out);
  assert.is(text.code, 0, text.err);
  for (const s of [
    'ELF64 shared object, x86_64',
    'ET_DYN',
    'PT_LOAD',
    'PT_DYNAMIC',
    'PT_GNU_STACK',
    '.gnu.hash',
    'SHT_DYNSYM',
    'DT_SONAME',
    'library soname: [libanswer.so]',
    'STT_FUNC',
    'R_X86_64_RELATIVE',
  ]) {
    assert.ok(text.out.includes(s), s);
  }
  assert.match(text.out, /^\s+\d+\s+0x0000000000001000\s+6\s+STT_FUNC\s+STB_GLOBAL\s+STV_DEFAULT\s+\d+\s+answer$/m);

  const json = await cli('inspect', out, '--json');
  assert.is(json.code, 0, json.err);
  const j = JSON.parse(json.out);
  assert.is(j.machine, 'x86_64');
  assert.is(j.header.typeName, 'ET_DYN');
  assert.is(j.header.e_phoff, '0x40');
  assert.ok(j.segments.some((p: { typeName: string; flagsText: string }) => p.typeName === 'PT_LOAD' && p.flagsText === 'RE'));
  const answer = j.dynamicSymbols.find((s: { name: string }) => s.name === 'answer');
  assert.equal([answer.typeName, answer.st_value, answer.st_size], ['STT_FUNC', '0x1000', '0x6']);
  assert.equal(j.hashTables.sysv.nchain, 8);
  assert.is(j.relocations[0].typeName, 'R_X86_64_RELATIVE');
});

test('build: bad JSON names the line and column', async () => {
  const spec = writeSpec('bad.json', '{\n  "symbols": [\n    { "name": "x", "section": "text", "bytes": "c3", }\n  ]\n}\n');
  const r = await cli('build', spec, '-o', join(dir, 'x.so'));
  assertOneLineFailure(r, /bad\.json:3:54: invalid JSON: expected a property name in double quotes, found '}'/);
  const empty = await cli('build', writeSpec('empty.json', ''), '-o', join(dir, 'x.so'));
  assertOneLineFailure(empty, /empty\.json:1:1: invalid JSON: unexpected end of input/);
});

test('the JSON error locator agrees with JSON.parse on what is valid', () => {
  const valid = ['{}', '[]', ' [1, -2.5e+3, "a\\u00e9\\n", true, false, null, {"a": [[]]}] ', '"x"', '0'];
  for (const s of valid) {
    JSON.parse(s);
    assert.is(locateJsonError(s), undefined, s);
  }
  const cases: [string, number][] = [
    ['', 0],
    ['{"a" 1}', 5],
    ['[1,]', 3],
    ['[1 2]', 3],
    ['{"a":1,}', 7],
    ['01', 1],
    ['"\u0001"', 1],
    ['"\\x"', 1],
    ['[1]x', 3],
    ['{"a":tru}', 5],
    ['[[[', 3],
    ['{"a":"b', 5],
  ];
  for (const [s, offset] of cases) {
    assert.throws(() => JSON.parse(s));
    assert.is(locateJsonError(s)?.offset, offset, JSON.stringify(s));
  }
  // Deep nesting does not overflow the stack.
  assert.is(locateJsonError(`${'['.repeat(200_000)}x`)?.offset, 200_000);
});

test('build: a field of the wrong type is named', async () => {
  const out = join(dir, 'x.so');
  const cases: [unknown, RegExp][] = [
    [{ symbols: [{ name: 5, section: 'text', bytes: 'c3' }] }, /symbols\[0\]\.name: must be a string/],
    [{ symbols: [{ name: 'a', section: 'stack', bytes: 'c3' }] }, /symbols\[0\]\.section: must be one of/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: 'c3x' }] }, /symbols\[0\]\.bytes: is not hex/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: 'c3c' }] }, /symbols\[0\]\.bytes: has an odd number of hex digits/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: { base64: '!!' } }] }, /symbols\[0\]\.bytes\.base64: is not valid base64/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: { file: 'nope.bin' } }] }, /symbols\[0\]\.bytes\.file: cannot read nope\.bin: no such file/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: { hex: 'c3', base64: 'ww==' } }] }, /symbols\[0\]\.bytes: must have exactly one of/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: true }] }, /symbols\[0\]\.bytes: must be a hex string/],
    [{ symbols: [{ name: 'a', section: 'text', bytes: [1, 256] }] }, /symbols\[0\]\.bytes: byte 1 is 256 \(number\), not 0\.\.255/],
    [{ symbols: [{ name: 'a', section: 'text', byte: 'c3' }] }, /symbols\[0\]: unknown field 'byte' \(did you mean 'bytes'\?\)/],
    [{ symbols: { name: 'a' } }, /symbols: must be an array/],
    [{ symbols: [5] }, /symbols\[0\]: must be an object/],
    [{ symbol: [] }, /unknown field 'symbol' \(did you mean 'symbols'\?\)/],
    [{ pointers: 5 }, /pointers: must be an array/],
    [{ pointers: [null] }, /pointers\[0\]: must be an object/],
    [{ staticSymbols: 'yes' }, /staticSymbols: must be true or false/],
    [{ machine: 'riscv' }, /machine: must be one of 'x86_64', 'aarch64'/],
    [{ pageSize: 1000 }, /pageSize: must be a power of two/],
    [{ needed: 'libc.so.6' }, /needed: must be an array/],
    [[1, 2], /the spec must be a JSON object, got an array/],
  ];
  for (const [spec, pattern] of cases) {
    const r = await cli('build', writeSpec('field.json', spec), '-o', out);
    assertOneLineFailure(r, pattern);
    assert.match(r.err, /field\.json: /);
  }
});

test('missing files, unwritable output and malformed ELF are one line, exit 1; --debug adds the stack', async () => {
  assertOneLineFailure(await cli('build', join(dir, 'missing.json'), '-o', join(dir, 'x.so')), /cannot read .*missing\.json: no such file or directory/);
  const spec = writeSpec('ok.json', { symbols: [{ name: 'a', section: 'text', bytes: 'c3' }] });
  assertOneLineFailure(await cli('build', spec, '-o', join(dir, 'no', 'such', 'dir', 'x.so')), /cannot write .*x\.so: no such file or directory/);
  assertOneLineFailure(await cli('build', spec, '-o', dir), /cannot write .*: it is a directory/);
  assertOneLineFailure(await cli('inspect', join(dir, 'missing.so')), /cannot read .*missing\.so: no such file or directory/);
  writeFileSync(join(dir, 'text.so'), 'hello, world: this is not an ELF file at all');
  assertOneLineFailure(await cli('inspect', join(dir, 'text.so')), /text\.so: not a valid ELF64 file: bad ELF magic at offset 0x0 \(found 0x68\)/);
  await cli('build', spec, '-o', join(dir, 'ok.so'));
  const truncated = readFileSync(join(dir, 'ok.so')).subarray(0, 200);
  writeFileSync(join(dir, 'truncated.so'), truncated);
  assertOneLineFailure(await cli('inspect', join(dir, 'truncated.so')), /truncated\.so: not a valid ELF64 file: .* at offset 0x/);
  assertOneLineFailure(await cli('inspect', dir), /cannot read .*: illegal operation on a directory/);

  const debug = await cli('inspect', join(dir, 'text.so'), '--debug');
  assert.is(debug.code, 1);
  assert.match(debug.err, /^dlbind: .*bad ELF magic/);
  assert.match(debug.err, /ElfFormatError: bad ELF magic[^\n]*\n\s+at /);
});

test('demo: on an unsupported platform, one line and exit 1', async () => {
  simulatePlatform({ platform: 'darwin', arch: 'arm64', glibc: false });
  try {
    const r = await cli('demo');
    assertOneLineFailure(r, /the demo cannot run here: live libraries need Linux with glibc on x86_64 or aarch64: platform 'darwin' is not Linux/);
    assert.is(r.out, '');
  } finally {
    simulatePlatform(undefined);
  }
});

test('demo: npx tsx src/cli/main.ts demo binds, calls, names, saves and links (as a real process)', () => {
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo'], { timeoutMs: 60_000 });
  assert.is(r.status, 0, r.stderr + r.stdout);
  const out = r.stdout;
  for (const s of [
    /dlsym\(lib, 'add'\)\s+0x[0-9a-f]+\s+add\(2, 40\)\s+42/,
    /dlsym\(lib, 'mul'\)\s+0x[0-9a-f]+\s+mul\(6, 7\)\s+42/,
    /0x[0-9a-f]+\s+add\+2\s+\/proc\/\d+\/fd\/\d+/,
    /PT_LOAD\s+R E\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+[\d,]+\s+\.text/,
    /r-xp\s+0x[0-9a-f]+\s+\.text: ld\.so's private mapping/,
    /rw-s\s+0x0\s+the writable alias/,
    /No mapping is both writable and executable\./,
    /symbols\s+3\s+1,048,576/,
    /libdemo\.so: [\d,]+ bytes, soname libdemo\.so, symbols add, greeting, mul/,
    /dldelete\(\) unloaded the library/,
  ]) {
    assert.match(out, s);
  }
  assert.is(r.stderr, '');
  if (have('cc') || have('gcc') || have('clang')) {
    assert.match(out, /\$ \.\/main\n\s+add\(2, 40\) = 42\n\s+mul\(6, 7\)\s+= 42\n\s+greeting\s+= "hello from a JIT library"/);
  } else {
    assert.match(out, /skipped: no C compiler/);
  }
});

test('demo: the commands it prints are shell-quoted, so they run as printed from a directory with spaces and quotes', () => {
  const tmp = join(dir, "with space and 'quote'");
  mkdirSync(tmp, { recursive: true });
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--keep'], { timeoutMs: 60_000, env: { ...process.env, TMPDIR: tmp } });
  assert.is(r.status, 0, r.stderr + r.stdout);
  const inspect = /\(try: (dlbind inspect .*)\)\.$/m.exec(r.stdout)?.[1];
  assert.ok(inspect !== undefined, r.stdout);
  assert.match(inspect, /'/, 'the path is quoted');
  // The shell splits the printed command back into the words the demo meant.
  const words = run('sh', ['-c', `printf '%s\\n' ${inspect}`])
    .stdout.trimEnd()
    .split('\n');
  assert.is(words.length, 3, words.join(' | '));
  assert.ok(existsSync(words[2]!), words[2]);
  const cc = /^ {2}\$ (\S+ -o main main\.c .*)$/m.exec(r.stdout)?.[1];
  if (cc !== undefined) {
    const again = run('sh', ['-c', cc], { cwd: dirname(words[2]!) });
    assert.is(again.status, 0, `${cc}\n${again.stderr}`);
  }
});

test('a failure in a real process: exit code 1, one line on stderr, nothing on stdout', () => {
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', join(dir, 'missing.so')]);
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
});

test.run();
