// Real and hostile layouts the reader once refused or misread, each made here: a separate debug
// file from eu-strip -f, gcc-built PIEs patched where ld.so and readelf disagree (an unknown
// d_tag past 2^53, a PT_DYNAMIC whose p_offset or p_vaddr is wrong), 8-byte DT_HASH words,
// and the wording of errors (negative values, sections with no name).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DT_DEBUG, EM_ALPHA, PT_DYNAMIC } from '../src/elf/constants.js';
import { ElfFormatError } from '../src/elf/errors.js';
import { readElf } from '../src/elf/reader.js';
import { SAMPLE_C, buildSharedObject, dynamicEntry, fileBytes, handmadeElf, readelf, sampleDir } from './elf-samples.js';
import { compileC, have, mustRun, run, skipBecause } from './helpers/tools.js';

const pie = compileC(
  sampleDir,
  'hostile-pie',
  '#include <stdio.h>\nint main(void) { puts("ran"); return 0; }\n',
  ['-pie', '-fPIE', '-g'],
  join(sampleDir, 'hostile-pie'),
);

/** A copy of the PIE with `edit` applied, written as an executable. */
function patched(name: string, edit: (v: DataView, bytes: Uint8Array) => void): { path: string; bytes: Uint8Array } {
  const bytes = fileBytes(pie).slice();
  edit(new DataView(bytes.buffer), bytes);
  const path = join(sampleDir, name);
  writeFileSync(path, bytes);
  chmodSync(path, 0o755);
  return { path, bytes };
}

/** The input offset of the PT_DYNAMIC program header. */
function dynamicHeader(v: DataView): number {
  const phoff = Number(v.getBigUint64(32, true));
  for (let i = 0; i < v.getUint16(56, true); i++) if (v.getUint32(phoff + 56 * i, true) === PT_DYNAMIC) return phoff + 56 * i;
  throw new Error('no PT_DYNAMIC');
}

/** The file offset of the dynamic entry with `tag` in an unpatched PIE. */
function dynamicTagAt(v: DataView, tag: number): number {
  const ph = dynamicHeader(v);
  for (let o = Number(v.getBigUint64(ph + 8, true)); ; o += 16) {
    const t = v.getBigInt64(o, true);
    if (t === BigInt(tag)) return o;
    if (t === 0n) throw new Error(`no tag ${tag}`);
  }
}

test('a separate debug file made by eu-strip -f reads as readelf reads it: no dynamic array, no warning', () => {
  if (!have('eu-strip')) return skipBecause('eu-strip -f', 'eu-strip is not installed');
  const debug = join(sampleDir, 'hostile-pie.debug');
  const stripped = join(sampleDir, 'hostile-pie.stripped');
  mustRun('eu-strip', ['-f', debug, '-o', stripped, pie]);
  const file = readElf(fileBytes(debug));
  const dynamicSection = file.sections.find((s) => s.name === '.dynamic')!;
  assert.is(dynamicSection.sh_type, 8, '.dynamic is SHT_NOBITS in the debug file');
  const ph = file.segments.find((p) => p.p_type === PT_DYNAMIC)!;
  assert.ok(ph.p_offset + ph.p_filesz > BigInt(fileBytes(debug).length), 'and PT_DYNAMIC points past its end');
  assert.equal(file.dynamic, []);
  assert.equal(file.warnings, []);
  assert.match(readelf(['-d'], debug), /no dynamic section/);
  assert.ok(file.symbols.some((s) => s.name === 'main'));
  const original = readElf(fileBytes(pie));
  assert.is(file.buildId, original.buildId);
  assert.ok(file.buildId !== undefined);
  assert.ok(readElf(fileBytes(stripped)).dynamic.length > 0);
});

test('an unknown d_tag beyond 2^53: ld.so runs the PIE, and the reader keeps the tag and reads the rest', () => {
  for (const tag of [0x4000_0000_0000_0000n, -0x4000_0000_0000_0000n]) {
    const { path, bytes } = patched('hostile-bigtag', (v) => v.setBigInt64(dynamicTagAt(v, DT_DEBUG), tag, true));
    const r = run(path, []);
    assert.is(r.stdout, 'ran\n', `ld.so ran it (${r.status} ${r.stderr})`);
    const file = readElf(bytes);
    const e = file.dynamic.find((d) => d.d_tag_raw !== undefined)!;
    assert.is(e.d_tag_raw, tag);
    assert.ok(file.lookup('main') === undefined && file.needed.includes('libc.so.6'));
    assert.ok(file.dynamicSymbols.some((s) => s.name === 'puts'));
  }
});

test('PT_DYNAMIC with a wrong p_offset: ld.so goes by the address, and so does the reader, with a warning', () => {
  const good = readElf(fileBytes(pie));
  const { path, bytes } = patched('hostile-dynoff', (v) => v.setBigUint64(dynamicHeader(v) + 8, 0x100n, true));
  assert.is(run(path, []).stdout, 'ran\n');
  const file = readElf(bytes);
  assert.equal(file.dynamic, good.dynamic);
  assert.equal(file.needed, ['libc.so.6']);
  assert.is(file.warnings.length, 1);
  assert.match(file.warnings[0]!, /PT_DYNAMIC p_offset 0x100 is not where its address .* read at the address, as ld\.so does/);
  // The other way round ld.so fails (l_ld points nowhere), and the reader says it went by p_offset.
  const bad = patched('hostile-dynaddr', (v) => v.setBigUint64(dynamicHeader(v) + 16, 0x90_0000n, true));
  const crashed = run(bad.path, []);
  assert.ok(crashed.status !== 0, `ld.so ran it: ${crashed.stdout}`);
  const read = readElf(bad.bytes);
  assert.equal(read.dynamic, good.dynamic);
  assert.match(read.warnings.join('\n'), /PT_DYNAMIC address 0x900000: .*lies in no PT_LOAD; read at p_offset/);
  // Neither way: an error, as before.
  const neither = patched('hostile-dynnone', (v) => {
    v.setBigUint64(dynamicHeader(v) + 16, 0x90_0000n, true);
    v.setBigUint64(dynamicHeader(v) + 8, 0x9_0000_0000n, true);
  });
  assert.throws(
    () => readElf(neither.bytes),
    (e: unknown) => e instanceof ElfFormatError && /PT_DYNAMIC .* lies outside the input/.test(e.message),
  );
});

test('8-byte DT_HASH words (EM_ALPHA): lookup() walks them; read as 4-byte words they would not work', () => {
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const h = handmadeElf(names, 2, 8);
  const v = new DataView(h.bytes.buffer);
  v.setUint16(18, EM_ALPHA, true);
  // Only DT_HASH: DT_GNU_HASH becomes DT_DEBUG.
  v.setBigUint64(dynamicEntry(h, 0x6ffffef5), BigInt(DT_DEBUG), true);
  const file = readElf(h.bytes);
  assert.is(file.sysvHash?.nbucket, 2);
  assert.is(file.sysvHash?.nchain, names.length + 1);
  for (const n of names) assert.is(file.lookup(n)?.name, n);
  assert.is(file.lookup('zeta'), undefined);
  const asX86 = h.bytes.slice();
  new DataView(asX86.buffer).setUint16(18, 62, true);
  let misread: string;
  try {
    const f = readElf(asX86);
    misread = names.filter((n) => f.lookup(n) === undefined).join(',');
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    misread = e.message;
  }
  assert.ok(misread !== '', 'as 4-byte words the table does not work');
});

test('error messages: a negative value is -0x..., a section with no name is named by index', () => {
  assert.match(new ElfFormatError('x', 16, -0x75ffn).message, /\(found -0x75ff\)$/);
  assert.match(new ElfFormatError('x', 16, -3).message, /\(found -0x3\)$/);
  const so = fileBytes(buildSharedObject('hostile-noname', SAMPLE_C(2)));
  const file = readElf(so);
  const shoff = Number(file.header.e_shoff);
  const dynsym = file.sections.findIndex((s) => s.name === '.dynsym');
  const dynstr = file.sections[dynsym]!.sh_link;
  const b = so.slice();
  const v = new DataView(b.buffer);
  v.setUint32(shoff + 64 * dynstr, 0, true); // .dynstr's sh_name: the empty string
  v.setUint32(Number(file.sections[dynsym]!.sh_offset) + 24, 0xfffff, true); // symbol 1's st_name past the table
  try {
    readElf(b);
    assert.unreachable('accepted');
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    assert.match(e.message, /string index past the end of \.dynsym's string table/);
  }
  v.setUint32(shoff + 64 * dynsym, 0, true); // and .dynsym has no name either
  try {
    readElf(b);
    assert.unreachable('accepted');
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    assert.match(e.message, new RegExp(`string index past the end of section ${dynsym}'s string table`));
    assert.not.match(e.message, / 's /);
  }
});

test.run();
