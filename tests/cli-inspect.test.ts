// dlbind inspect: the selection flags, relocations by symbol name, names a hostile file cannot
// drive the terminal with, tables past the stack's reach, and `dlbind build -` from stdin.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INSPECT_PARTS } from '../src/cli/inspect.js';
import { run as runCli } from '../src/cli/program.js';
import { buildSharedObject as dlbindBuild } from '../src/elf/builder.js';
import { readElf } from '../src/elf/reader.js';
import { SAMPLE_C, buildSharedObject, readelf } from './elf-samples.js';
import { mustRun, run, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-cli-inspect-');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const so = buildSharedObject('inspect-sample', SAMPLE_C(3));
const object = (() => {
  const src = join(dir, 'obj.c');
  writeFileSync(src, '#include <stdio.h>\nint counter;\nint f(int x) { counter += x; return printf("%d", x); }\n');
  mustRun('gcc', ['-c', '-O2', '-o', join(dir, 'obj.o'), src]);
  return join(dir, 'obj.o');
})();

/** Each part's heading, as the text report begins it. */
const HEADINGS: Record<string, RegExp> = {
  'file-header': /^ELF header$/m,
  segments: /^Segments \(\d+\)$/m,
  sections: /^Sections \(\d+\)$/m,
  dynamic: /^Dynamic section \(\d+ entries\)$/m,
  'dyn-syms': /^Dynamic symbols \(\d+, \.dynsym\)$/m,
  symbols: /^Symbols \(\d+, \.symtab\)$/m,
  relocs: /^Relocations in /m,
  'version-info': /^Version (definitions|needs) /m,
  notes: /^Notes \(\d+\)$/m,
  unwind: /^Call frame information \(\.eh_frame at /m,
};

test('with no flag every part is printed; each selection flag prints only its part', async () => {
  assert.equal(INSPECT_PARTS.map((p) => p.flag).sort(), Object.keys(HEADINGS).sort());
  const all = await cli('inspect', so);
  assert.is(all.code, 0, all.err);
  for (const [flag, heading] of Object.entries(HEADINGS)) assert.match(all.out, heading, `everything has ${flag}`);
  for (const flag of Object.keys(HEADINGS)) {
    const r = await cli('inspect', so, `--${flag}`);
    assert.is(r.code, 0, r.err);
    // --symbols is readelf's -s: both tables.
    const shown = flag === 'symbols' ? ['symbols', 'dyn-syms'] : [flag];
    for (const [other, heading] of Object.entries(HEADINGS)) {
      if (shown.includes(other)) assert.match(r.out, heading, `--${flag} prints its part`);
      else assert.not.match(r.out, heading, `--${flag} prints no ${other}`);
    }
    assert.not.match(r.out, /ELF64 shared object/, `--${flag} has no title line`);
    const json = JSON.parse((await cli('inspect', so, `--${flag}`, '--json')).out) as Record<string, unknown>;
    const keys = Object.keys(json).filter((k) => !['file', 'size', 'machine', 'warnings'].includes(k));
    assert.ok(keys.length > 0 && keys.length <= 6, `--${flag} --json: ${keys}`);
  }
  const two = await cli('inspect', so, '--notes', '--segments');
  assert.match(two.out, HEADINGS.notes!);
  assert.match(two.out, HEADINGS.segments!);
  assert.not.match(two.out, HEADINGS.sections!);
});

test('--relocs names every symbol (with its version), as readelf -r does, in .so and .o', async () => {
  const r = await cli('inspect', so, '--relocs');
  assert.match(r.out, /^Relocations in \.rela\.plt \(DT_JMPREL, \d+ entr(y|ies), applies to \.got\.plt\)$/m);
  assert.match(r.out, /R_X86_64_JUMP_SLOT\s+printf@GLIBC_2\.2\.5\s+0x0$/m);
  assert.match(readelf(['-r'], so), /R_X86_64_JUMP_SLOT\s+0+\s+printf@GLIBC_2\.2\.5 \+ 0/);
  const file = readElf(readFileSync(so));
  for (const t of file.relocationTables)
    for (const e of t.entries) if (e.sym !== 0) assert.ok(r.out.includes(file.versionedName(e.sym)), `${file.versionedName(e.sym)} is named`);
  assert.not.match(r.out, /\s#\d+\s/, 'no symbol by index');
  const o = await cli('inspect', object, '--relocs');
  assert.match(o.out, /^Relocations in \.rela\.text(\.startup)? \(RELA, \d+ entr(y|ies), applies to \.text(\.startup)?\)$/m);
  assert.match(o.out, /R_X86_64_PLT32\s+printf\s+-0x4$/m);
  assert.match(o.out, /R_X86_64_PC32\s+counter\s+-0x[0-9a-f]+$/m);
});

test('names with control bytes and terminal escapes are printed escaped, as readelf does; --json keeps them exact', async () => {
  const bytes = new Uint8Array(readFileSync(so));
  const file = readElf(bytes);
  const dynstr = file.sections.find((s) => s.name === '.dynstr')!;
  const at = Buffer.from(bytes).indexOf('generated_1\0', Number(dynstr.sh_offset));
  // generated_1 -> "\x1b[2J\x07ated_1": clear the screen and ring the bell, in the same length.
  bytes.set([0x1b, 0x5b, 0x32, 0x4a, 0x07], at);
  const path = join(dir, 'escapes.so');
  writeFileSync(path, bytes);
  assert.match(readelf(['--dyn-syms'], path), /\^\[\[2J\^Gated_1/);
  const text = await cli('inspect', path);
  assert.is(text.code, 0, text.err);
  assert.ok(text.out.includes('^[[2J^Gated_1'), 'escaped');
  assert.not.match(text.out, /[\x00-\x08\x0b-\x1f\x7f]/, 'no control byte is printed');
  const json = await cli('inspect', path, '--json', '--dyn-syms');
  const names = (JSON.parse(json.out) as { dynamicSymbols: { name: string }[] }).dynamicSymbols.map((s) => s.name);
  assert.ok(names.includes('\x1b[2J\x07ated_1'), 'JSON keeps the exact name');
});

test('a table of 150,000 rows prints (out.push(...rows) overflowed the stack)', async () => {
  const n = 150_000;
  const path = join(dir, 'big.so');
  writeFileSync(path, dlbindBuild({ symbols: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, section: 'rodata' as const, bytes: [i & 0xff] })) }));
  const rows = Array.from({ length: n + 1 }, () => 'row');
  assert.throws(() => [].push(...(rows as never[])), RangeError, 'this many rows cannot be spread into a call');
  const r = await cli('inspect', path, '--dyn-syms');
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.split('\n').length > n, 'every row');
  assert.match(r.out, /\ss149999$/m);
});

test('dlbind build - reads the spec from standard input', () => {
  const out = join(dir, 'stdin.so');
  const spec = JSON.stringify({ soname: 'libstdin.so', symbols: [{ name: 'answer', section: 'text', bytes: 'b8 2a 00 00 00 c3' }] });
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'build', '-', '-o', out], { input: spec });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*stdin\.so: .* 1 dynamic symbol \(answer\)/);
  assert.is(readElf(readFileSync(out)).soname, 'libstdin.so');
  const bad = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'build', '-', '-o', out], { input: '{"symbols": [{"name": 5}]}' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /^dlbind: <stdin>: symbols\[0\]\.name: must be a string, got number\n$/);
});

test.run();
