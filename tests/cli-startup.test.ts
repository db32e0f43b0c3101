// The command's start: `build` prints its summary from what the writer decided (it never reads
// its output back), and each subcommand loads only its own code: `build` not the reader,
// `inspect` not the writer, neither koffi. Speed itself is measured in bench/, never here.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { grouped } from '../src/cli/format.js';
import { INSPECT_FLAGS } from '../src/cli/inspect-flags.js';
import { INSPECT_PARTS } from '../src/cli/inspect.js';
import { decodeHex } from '../src/cli/spec.js';
import { run as runCli } from '../src/cli/program.js';
import { readElf } from '../src/index.js';
import { mustRun, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-cli-startup-');

/** The summary as the command printed it when it read the file back: what readElf says is in it. */
function summaryFromFile(path: string): string {
  const bytes = readFileSync(path);
  const file = readElf(bytes);
  const names = file.dynamicSymbols.filter((s) => s.name !== '').map((s) => s.name);
  const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
  return `wrote ${path}: ${grouped(bytes.length)} bytes, ${file.machine}, ${names.length} dynamic symbol${names.length === 1 ? '' : 's'}${names.length > 0 ? ` (${shown})` : ''}`;
}

const fn = (name: string, more: Record<string, unknown> = {}) => ({ name, section: 'text', bytes: 'c3', ...more });
const many = (n: number, prefix = 'f') => Array.from({ length: n }, (_, i) => fn(`${prefix}${i}`));

const SPECS: Record<string, unknown> = {
  empty: {},
  'one symbol': { symbols: [fn('answer')] },
  'eight symbols': { symbols: many(8) },
  'nine symbols': { symbols: many(9) },
  'hidden and internal symbols stay out of .dynsym': {
    symbols: [fn('shown'), fn('hidden', { visibility: 'hidden' }), fn('internal', { visibility: 'internal' }), fn('weak', { binding: 'weak' })],
  },
  'only hidden symbols': { symbols: [fn('a', { visibility: 'hidden' }), fn('b', { visibility: 'hidden' })] },
  'SysV hash only (no hash order)': { hashStyle: 'sysv', symbols: many(20) },
  'GNU hash only': { hashStyle: 'gnu', symbols: many(20) },
  'imports come first': {
    needed: ['libc.so.6'],
    imports: ['printf@GLIBC_2.2.5', 'puts', { name: 'environ', kind: 'object', binding: 'weak' }],
    symbols: [fn('call', { bytes: 'e8 00 00 00 00 c3' }), ...many(3, 'g')],
    references: [{ symbol: 'call', offset: 1, target: 'printf' }],
  },
  'imports only': { needed: ['libc.so.6'], imports: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] },
  'versions, data, bss and aarch64': {
    soname: 'libv.so',
    machine: 'aarch64',
    versions: ['V1', { name: 'V2', parent: 'V1' }],
    symbols: [
      { name: 'old', section: 'text', bytes: [0xc0, 0x03, 0x5f, 0xd6], version: 'V1', defaultVersion: false },
      { name: 'new', section: 'text', bytes: [0xc0, 0x03, 0x5f, 0xd6], version: 'V2' },
      { name: 'table', section: 'rodata', bytes: [1, 2, 3] },
      { name: 'counter', section: 'bss', size: 8 },
    ],
  },
  '1,000 symbols': { symbols: many(1000) },
};

for (const [name, spec] of Object.entries(SPECS)) {
  test(`build's summary comes from the plan and says what readElf finds: ${name}`, async () => {
    const specPath = join(dir, 'spec.json');
    const out = join(dir, 'out.so');
    writeFileSync(specPath, JSON.stringify(spec));
    rmSync(out, { force: true });
    let printed = '';
    const code = await runCli(['build', specPath, '-o', out], { out: (t) => (printed += t), err: (t) => (printed += t) });
    assert.is(code, 0, printed);
    assert.is(printed, `${summaryFromFile(out)}\n`);
  });
}

/** decodeHex as it was (whitespace removed by a regular expression, Buffer's decoder): the one-pass decoder must agree, errors included. */
function decodeHexReference(text: string): Uint8Array | string {
  const digits = text.replace(/\s+/g, '');
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad !== null) return `is not hex: '${bad[0]}' is not a hex digit`;
  if (digits.length % 2 !== 0) return `has an odd number of hex digits (${digits.length})`;
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

test('decodeHex agrees with the regular-expression decoder on any text: bytes, or the same error', () => {
  const chars = fc.constantFrom(...'0123456789abcdefABCDEF', ' ', '\t', '\n', '\u00a0', '\u2028', '\ufeff', 'g', 'x', '-', '\u00e9', '\ud83d');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 40 }), (list) => {
      const text = list.join('');
      let got: Uint8Array | string;
      try {
        got = decodeHex(text, 'f');
      } catch (err) {
        got = (err as Error).message.replace(/^f: /, '');
      }
      assert.equal(got, decodeHexReference(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
  assert.equal(decodeHex('b8 2a 00 00 00 c3', 'f'), Uint8Array.of(0xb8, 0x2a, 0, 0, 0, 0xc3));
});

test("inspect's selection flags and its report's parts are the same, in the same order", () => {
  assert.equal(
    INSPECT_PARTS.map((p) => p.flag),
    Object.keys(INSPECT_FLAGS),
  );
});

/** Runs `node <args>` in this repository and returns the set of modules it loaded, as paths from the repository root. */
function loaded(args: readonly string[]): Set<string> {
  const record = join(dir, 'loaded.txt');
  rmSync(record, { force: true });
  mustRun(process.execPath, ['--import', './tests/helpers/loaded-modules.mjs', ...args], { env: { ...process.env, DLBIND_LOADED_MODULES: record } });
  const root = new URL('..', import.meta.url).href;
  return new Set(
    readFileSync(record, 'utf8')
      .split('\n')
      .filter((u) => u !== '')
      .map((u) => (u.startsWith(root) ? u.slice(root.length) : u)),
  );
}

test('from the sources: build loads the writer but not the reader, inspect the reader but not the writer, neither koffi', () => {
  const specPath = join(dir, 'lazy.json');
  const out = join(dir, 'lazy.so');
  writeFileSync(specPath, JSON.stringify({ symbols: [fn('answer')] }));
  const cli = ['--import', 'tsx', 'src/cli/main.ts'];
  const koffi = (mods: Set<string>) => [...mods].filter((m) => m.includes('/koffi/'));

  const build = loaded([...cli, 'build', specPath, '-o', out]);
  assert.ok(build.has('src/elf/writer.ts'), 'the recorder sees the writer load');
  assert.ok(build.has('src/elf/builder.ts'));
  assert.not.ok(build.has('src/elf/reader.ts'), 'build loads the reader');
  assert.not.ok(build.has('src/cli/inspect.ts'), 'build loads the inspect report');
  assert.equal(koffi(build), []);

  const inspect = loaded([...cli, 'inspect', out]);
  assert.ok(inspect.has('src/elf/reader.ts'), 'the recorder sees the reader load');
  assert.not.ok(inspect.has('src/elf/writer.ts'), 'inspect loads the writer');
  assert.not.ok(inspect.has('src/elf/builder.ts'), 'inspect loads the builder');
  assert.equal(koffi(inspect), []);

  const version = loaded([...cli, '--version']);
  assert.ok(version.has('src/cli/program.ts'));
  for (const m of ['src/elf/reader.ts', 'src/elf/writer.ts', 'src/cli/build.ts', 'src/cli/inspect.ts']) assert.not.ok(version.has(m), `--version loads ${m}`);
});

test('`build SPEC -o OUT` runs without commander and does what every other spelling does; the others load it', async () => {
  const specPath = join(dir, 'forms.json');
  writeFileSync(specPath, JSON.stringify({ symbols: many(12) }));
  const out = join(dir, 'forms.so');
  const forms: string[][] = [
    ['build', specPath, '-o', out],
    ['build', specPath, '--output', out],
    ['build', '-o', out, specPath],
    ['build', '--output', out, specPath],
    ['build', specPath, `--output=${out}`],
    ['build', `-o${out}`, specPath],
    ['build', '--debug', specPath, '-o', out],
  ];
  const printed: string[] = [];
  const files: string[] = [];
  for (const argv of forms) {
    rmSync(out, { force: true });
    let text = '';
    const code = await runCli(argv, { out: (t) => (text += t), err: (t) => (text += t) });
    assert.is(code, 0, argv.join(' '));
    printed.push(text);
    files.push(readFileSync(out).toString('hex'));
  }
  for (let k = 1; k < forms.length; k++) {
    assert.is(printed[k], printed[0], forms[k]!.join(' '));
    assert.is(files[k], files[0], forms[k]!.join(' '));
  }
  // The same errors and exit codes, with or without commander.
  const missing = join(dir, 'no-such-spec.json');
  for (const argv of [
    ['build', missing, '-o', out],
    ['build', missing, `--output=${out}`],
  ]) {
    let err = '';
    assert.is(await runCli(argv, { out: () => {}, err: (t) => (err += t) }), 1);
    assert.is(err, `dlbind: cannot read ${missing}: no such file or directory\n`);
  }
  const commander = (mods: Set<string>) => [...mods].some((m) => m.includes('/commander/'));
  const cli = ['--import', 'tsx', 'src/cli/main.ts'];
  assert.not.ok(commander(loaded([...cli, 'build', specPath, '-o', out])), 'build SPEC -o OUT loads commander');
  assert.ok(commander(loaded([...cli, 'build', specPath, `--output=${out}`])), 'the recorder sees commander load');
  assert.ok(commander(loaded([...cli, '--version'])));
});

test.run();
