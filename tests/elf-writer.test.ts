// The ELF writer, checked by the real tools rather than by our own reader:
// readelf and eu-elflint must accept every object, nm must list each symbol with
// the type letter its spec implies, objdump must find each function's bytes at
// its address, and the string-table, hash and validation units must agree with
// independent implementations (a C program for the hashes, brute force for strings).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ElfBuildError,
  StringTableBuilder,
  buildSharedObject,
  elfHash,
  gnuHash,
  writeSharedObject,
  type SharedObjectSpec,
  type SymbolSpec,
} from '../src/elf/index.js';
import { elfHashString, gnuHashString } from '../src/elf/hash.js';
import { compileC, have, mustRun, run, skipBecause, tempDir } from './helpers/tools.js';
import { specBytes, specSize } from './helpers/spec.js';

const dir = tempDir('dlbind-elf-writer-');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array | readonly number[]): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const le = (value: bigint, width: number): number[] => Array.from({ length: width }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));

/** True when every tool is installed; otherwise prints why the test is skipped. */
function needs(what: string, ...tools: string[]): boolean {
  const missing = tools.filter((t) => !have(t));
  if (missing.length > 0) skipBecause(what, `${missing.join(', ')} not installed`);
  return missing.length === 0;
}

// ---------------------------------------------------------------------------
// Specs. Machine code is written here, by hand: x86_64 `mov eax, 42; ret`,
// `lea eax, [rdi+rsi]; ret`, `xor eax, eax; ret`; aarch64 `mov w0, #42; ret`.
const X86_ANSWER = [0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3];
const X86_ADD = [0x8d, 0x04, 0x37, 0xc3];
const X86_ZERO = [0x31, 0xc0, 0xc3];
const A64_ANSWER = [0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6];
const COUNTER = 0x1122334455667788n;

/** Every section, both bindings, hidden/internal/protected, pointers and non-ASCII names. */
function fullSymbols(code = { answer: X86_ANSWER, add: X86_ADD, zero: X86_ZERO }): SymbolSpec[] {
  return [
    { name: 'answer', section: 'text', bytes: code.answer },
    { name: 'add', section: 'text', bytes: code.add, binding: 'weak' },
    { name: 'secret_helper', section: 'text', bytes: code.zero, visibility: 'hidden' },
    { name: 'protected_fn', section: 'text', bytes: code.zero, visibility: 'protected' },
    { name: '関数_😀', section: 'text', bytes: code.answer, align: 4 },
    { name: 'table', section: 'rodata', bytes: [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0], align: 4 },
    { name: 'message', section: 'rodata', bytes: utf8('hello\0'), align: 1 },
    { name: 'hidden_const', section: 'rodata', bytes: [7, 7], visibility: 'hidden' },
    { name: 'größe_ü', section: 'rodata', bytes: [0x99] },
    { name: 'counter', section: 'data', bytes: le(COUNTER, 8) },
    { name: 'weak_data', section: 'data', bytes: [1, 2, 3, 4], size: 16, binding: 'weak' },
    { name: 'ptrs', section: 'data', size: 32, align: 16 },
    { name: 'zeros', section: 'bss', size: 4096, align: 64 },
    { name: 'internal_bss', section: 'bss', size: 8, visibility: 'internal' },
    { name: 'last_bss', section: 'bss', size: 3, align: 1 },
  ];
}
const fullPointers: SharedObjectSpec['pointers'] = [
  { symbol: 'ptrs', offset: 0, target: 'table', addend: 4 },
  { symbol: 'ptrs', offset: 8, target: 'answer' },
  { symbol: 'ptrs', offset: 16, target: 'zeros', addend: 8 },
  { symbol: 'ptrs', offset: 24, target: 'hidden_const' },
];

interface Case {
  name: string;
  spec: SharedObjectSpec;
}
const x86Cases: Case[] = [
  {
    name: 'both hashes, soname and needed, every section, pointers',
    spec: { soname: 'libfull.so.1', needed: ['libc.so.6', 'libm.so.6'], hashStyle: 'both', symbols: fullSymbols(), pointers: fullPointers },
  },
  { name: 'sysv hash, no soname or needed', spec: { hashStyle: 'sysv', symbols: fullSymbols(), pointers: fullPointers } },
  {
    name: 'gnu hash, read-only .dynamic',
    spec: { hashStyle: 'gnu', soname: 'libro.so', dynamicWritable: false, symbols: fullSymbols(), pointers: fullPointers },
  },
  { name: 'no .symtab (staticSymbols false)', spec: { hashStyle: 'both', staticSymbols: false, symbols: fullSymbols(), pointers: fullPointers } },
  {
    name: 'non-ASCII names only',
    spec: {
      hashStyle: 'both',
      symbols: [
        { name: 'größe', section: 'text', bytes: X86_ANSWER },
        { name: 'öße', section: 'rodata', bytes: [1, 2] },
        { name: '日本語', section: 'data', bytes: [3, 4, 5] },
        { name: '😀', section: 'bss', size: 16 },
      ],
    },
  },
  { name: 'empty symbol list, both hashes', spec: { symbols: [] } },
  { name: 'empty symbol list, sysv hash', spec: { hashStyle: 'sysv', soname: 'libempty.so' } },
  { name: 'empty symbol list, gnu hash, read-only .dynamic', spec: { hashStyle: 'gnu', dynamicWritable: false, symbols: [] } },
  {
    name: 'functions only (no rodata, data or bss)',
    spec: {
      hashStyle: 'gnu',
      symbols: [
        { name: 'answer', section: 'text', bytes: X86_ANSWER },
        { name: 'add', section: 'text', bytes: X86_ADD },
      ],
    },
  },
];

// ---------------------------------------------------------------------------
// Tool output, parsed.

interface NmSymbol {
  addr: bigint;
  size: bigint;
  letter: string;
}
/** `nm [-D] -S` as a map from name to address, size and type letter. */
function nm(path: string, dynamic: boolean): Map<string, NmSymbol> {
  const r = run('nm', [...(dynamic ? ['-D'] : []), '-S', path]);
  const out = new Map<string, NmSymbol>();
  if (r.status !== 0) {
    assert.ok(/no symbols/.test(r.stderr), `nm ${dynamic ? '-D ' : ''}failed: ${r.stderr}`);
    return out;
  }
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?([A-Za-z]) (.+)$/.exec(line);
    if (m) out.set(m[4]!, { addr: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2] ?? '0'}`), letter: m[3]! });
  }
  return out;
}

interface Segment {
  type: string;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  flags: string;
}
function segments(path: string): Segment[] {
  const out: Segment[] = [];
  for (const line of mustRun('readelf', ['-lW', path]).stdout.split('\n')) {
    const m = /^\s+([A-Z_]+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) ([RWE ]+?)\s+0x[0-9a-f]+$/.exec(line);
    if (m)
      out.push({
        type: m[1]!,
        offset: BigInt(`0x${m[2]}`),
        vaddr: BigInt(`0x${m[3]}`),
        filesz: BigInt(`0x${m[4]}`),
        memsz: BigInt(`0x${m[5]}`),
        flags: m[6]!.replace(/ /g, ''),
      });
  }
  return out;
}

interface Section {
  name: string;
  addr: bigint;
  size: bigint;
  flags: string;
}
function sections(path: string): Map<string, Section> {
  const out = new Map<string, Section>();
  for (const line of mustRun('readelf', ['-SW', path]).stdout.split('\n')) {
    const m = /^\s+\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]{16}) [0-9a-f]+ ([0-9a-f]+) [0-9a-f]+ +([A-Za-z]*) /.exec(line);
    if (m) out.set(m[1]!, { name: m[1]!, addr: BigInt(`0x${m[2]}`), size: BigInt(`0x${m[3]}`), flags: m[4]! });
  }
  return out;
}

/** The bytes a loader would map at `vaddr` (zero past a segment's file size), read from the file through its program headers. */
function bytesAt(file: Uint8Array, segs: Segment[], vaddr: bigint, length: number): number[] {
  const seg = segs.find((s) => s.type === 'LOAD' && vaddr >= s.vaddr && vaddr + BigInt(length) <= s.vaddr + s.memsz);
  assert.ok(seg, `no PT_LOAD maps [0x${vaddr.toString(16)}, +${length})`);
  return Array.from({ length }, (_, i) => {
    const at = vaddr + BigInt(i) - seg!.vaddr;
    return at < seg!.filesz ? file[Number(seg!.offset + at)]! : 0;
  });
}

/** The instruction bytes objdump disassembles in [addr, addr+length), and the label it prints at addr. */
function disassembly(path: string, addr: bigint, length: number): { bytes: number[]; label: string | undefined } {
  const r = mustRun('objdump', ['-d', `--start-address=0x${addr.toString(16)}`, `--stop-address=0x${(addr + BigInt(length)).toString(16)}`, path]);
  const bytes: number[] = [];
  let label: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const l = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (l && BigInt(`0x${l[1]}`) === addr) label = l[2];
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(line);
    if (m)
      bytes.push(
        ...m[1]!
          .trim()
          .split(' ')
          .map((b) => parseInt(b, 16)),
      );
  }
  return { bytes, label };
}

function assertReadelfClean(path: string): string {
  const r = run('readelf', ['-W', '-a', path]);
  assert.is(r.stderr, '', `readelf -W -a wrote to stderr:\n${r.stderr}`);
  const bad = r.stdout.split('\n').filter((l) => /warning|error/i.test(l));
  assert.equal(bad, [], `readelf -W -a printed warnings:\n${bad.join('\n')}`);
  return r.stdout;
}

const PROTECTED_COMPLAINT = /^section \[\s*\d+\] '\.dynsym': symbol \d+ \((.*)\): symbol in dynamic symbol table with non-default visibility$/;
let elflintFlagsLdProtected: boolean | undefined;
/**
 * eu-elflint (0.188 at least) reports every STV_PROTECTED symbol in .dynsym as an
 * error, GNU ld's own output included. Such a line is forgiven for a symbol the
 * spec made protected, and only once gcc + ld have been seen to draw the same line.
 */
function elflintFlagsProtected(): boolean {
  if (elflintFlagsLdProtected === undefined) {
    elflintFlagsLdProtected = false;
    if (have('gcc')) {
      const so = join(dir, 'libgccprotected.so');
      compileC(dir, 'gccprotected', '__attribute__((visibility("protected"))) int pf(void) { return 1; }\n', ['-shared', '-fPIC'], so);
      elflintFlagsLdProtected = run('eu-elflint', ['--gnu-ld', so])
        .stdout.split('\n')
        .some((l) => PROTECTED_COMPLAINT.exec(l)?.[1] === 'pf');
    }
  }
  return elflintFlagsLdProtected;
}

function assertElflintClean(path: string, protectedNames: readonly string[] = []): void {
  const r = run('eu-elflint', ['--gnu-ld', path]);
  const lines = r.stdout.trim().split('\n');
  const errors = lines.filter((l) => {
    const name = PROTECTED_COMPLAINT.exec(l)?.[1];
    return !(name !== undefined && protectedNames.includes(name) && elflintFlagsProtected());
  });
  if (errors.length < lines.length && errors.length === 0) return; // only the forgiven lines
  const hint = errors.some((l) => /alloc flag set but section not in any loaded segment/.test(l))
    ? '\n(an empty content section is still written as an SHF_ALLOC section whose file offset lies in no PT_LOAD (it sits right after the end of the segment before it);' +
      ' GNU ld and lld drop empty output sections)'
    : '';
  assert.ok(r.status === 0 && r.stdout.trim() === 'No errors', `eu-elflint --gnu-ld ${path} (exit ${r.status}):\n${errors.join('\n')}${r.stderr}${hint}`);
}

const SECTION_LETTER: Record<string, string> = { text: 't', rodata: 'r', data: 'd', bss: 'b' };

/** The `nm` letter the spec implies: T/R/D/B for globals, W for weak functions, V for weak objects, lower case for locals. */
function expectedLetter(s: SymbolSpec): string {
  const local = s.visibility === 'hidden' || s.visibility === 'internal';
  const base = SECTION_LETTER[s.section]!;
  if (local) return base;
  if (s.binding === 'weak') return s.section === 'text' ? 'W' : 'V';
  return base.toUpperCase();
}

const isExported = (s: SymbolSpec): boolean => s.visibility !== 'hidden' && s.visibility !== 'internal';

/** Every check of item 1 that needs only the file and the tools. */
function checkObject(c: Case, path: string): void {
  const spec = c.spec;
  const symbols = spec.symbols ?? [];
  assertReadelfClean(path);

  // .dynamic says what the spec asked for.
  const dyn = mustRun('readelf', ['-dW', path]).stdout;
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]);
  assert.equal(needed, spec.needed ?? []);
  assert.equal(/\(SONAME\)\s+Library soname: \[(.*)\]/.exec(dyn)?.[1], spec.soname);
  const style = spec.hashStyle ?? 'both';
  assert.is(/\(HASH\)/.test(dyn), style !== 'gnu', 'DT_HASH presence');
  assert.is(/\(GNU_HASH\)/.test(dyn), style !== 'sysv', 'DT_GNU_HASH presence');
  const secs = sections(path);
  assert.is(secs.has('.hash'), style !== 'gnu', '.hash presence');
  assert.is(secs.has('.gnu.hash'), style !== 'sysv', '.gnu.hash presence');
  const segs = segments(path);
  const dynSeg = segs.find((s) => s.type === 'DYNAMIC');
  assert.ok(dynSeg, 'PT_DYNAMIC');
  const dynLoad = segs.find((s) => s.type === 'LOAD' && dynSeg!.vaddr >= s.vaddr && dynSeg!.vaddr < s.vaddr + s.memsz)!;
  assert.is(dynLoad.flags.includes('W'), spec.dynamicWritable !== false, `.dynamic's PT_LOAD flags ${dynLoad.flags}`);
  assert.is(dynSeg.flags.includes('W'), spec.dynamicWritable !== false, `PT_DYNAMIC flags ${dynSeg.flags}`);
  for (const s of segs.filter((x) => x.type === 'LOAD')) assert.ok(!(s.flags.includes('W') && s.flags.includes('E')), 'no W+X segment');

  // nm -D: exactly the exported symbols, each with the letter and size its spec implies.
  const dynSyms = nm(path, true);
  const exported = symbols.filter(isExported);
  assert.equal([...dynSyms.keys()].sort(), exported.map((s) => s.name).sort(), 'nm -D lists exactly the exported symbols');
  for (const s of exported) {
    const d = dynSyms.get(s.name)!;
    assert.is(d.letter, expectedLetter(s), `nm -D type letter of ${s.name}`);
    if (specSize(s) > 0) assert.is(d.size, BigInt(specSize(s)), `nm -D size of ${s.name}`);
  }
  // nm (.symtab): every symbol, hidden ones as locals.
  const all = nm(path, false);
  if (spec.staticSymbols === false) {
    assert.ok(!secs.has('.symtab'), 'no .symtab when staticSymbols is false');
  } else {
    assert.equal([...all.keys()].sort(), symbols.map((s) => s.name).sort(), 'nm lists every symbol');
    for (const s of symbols) {
      assert.is(all.get(s.name)!.letter, expectedLetter(s), `nm type letter of ${s.name}`);
      if (isExported(s)) assert.is(all.get(s.name)!.addr, dynSyms.get(s.name)!.addr, `${s.name}: same address in .symtab and .dynsym`);
    }
  }
  const addrOf = (name: string): bigint => (all.get(name) ?? dynSyms.get(name))!.addr;
  const known = (name: string): boolean => all.has(name) || dynSyms.has(name); // hidden symbols need .symtab

  // Each symbol lies inside its section, aligned, in spec order, without overlap.
  const previousEnd = new Map<string, bigint>();
  for (const s of symbols) {
    if (!known(s.name)) continue;
    const a = addrOf(s.name);
    const sec = secs.get(`.${s.section}`)!;
    const size = BigInt(specSize(s));
    const align = BigInt(s.align ?? (s.section === 'text' ? 16 : 8));
    assert.is(a % align, 0n, `${s.name} at 0x${a.toString(16)} is aligned to ${align}`);
    assert.ok(a >= sec.addr && a + size <= sec.addr + sec.size, `${s.name} lies inside .${s.section}`);
    const prev = previousEnd.get(s.section);
    if (prev !== undefined) assert.ok(a >= prev, `${s.name} does not overlap the symbol before it`);
    previousEnd.set(s.section, a + size);
  }

  // Contents: the bytes a loader maps at each symbol are the spec's, zero-padded; pointer words carry RELATIVE relocations.
  const file = new Uint8Array(readFileSync(path));
  const pointerWords = new Set((spec.pointers ?? []).map((p) => `${p.symbol}+${p.offset ?? 0}`));
  for (const s of symbols) {
    if (!known(s.name)) continue;
    const size = specSize(s);
    if (size === 0) continue;
    const want = [...specBytes(s), ...new Array(size - specBytes(s).length).fill(0)];
    const got = bytesAt(file, segs, addrOf(s.name), size);
    for (let off = 0; off < size; off += 8) {
      if (pointerWords.has(`${s.name}+${off}`)) {
        want.fill(0, off, off + 8);
        got.fill(0, off, off + 8);
      }
    }
    assert.is(hex(got), hex(want), `contents of ${s.name}`);
  }
  const relocs = mustRun('readelf', ['-rW', path]).stdout;
  const relative = [...relocs.matchAll(/^([0-9a-f]{16})\s+[0-9a-f]+\s+R_X86_64_RELATIVE\s+([0-9a-f]+)$/gm)].map(
    (m) => `${BigInt(`0x${m[1]}`)}->${BigInt(`0x${m[2]}`)}`,
  );
  const pointers = spec.pointers ?? [];
  assert.is(relative.length, pointers.length, 'one R_X86_64_RELATIVE per pointer');
  for (const p of pointers.filter((x) => known(x.symbol) && known(x.target))) {
    const want = `${addrOf(p.symbol) + BigInt(p.offset ?? 0)}->${addrOf(p.target) + BigInt(p.addend ?? 0)}`;
    assert.ok(
      relative.includes(want),
      `RELATIVE relocation for ${p.symbol}+${p.offset ?? 0} -> ${p.target}+${p.addend ?? 0} (${want}) among ${relative.join(', ')}`,
    );
  }

  // objdump -d finds each function's bytes at the symbol's address, under the symbol's name.
  for (const s of symbols.filter((x) => x.section === 'text')) {
    if (!known(s.name)) continue;
    const d = disassembly(path, addrOf(s.name), specBytes(s).length);
    assert.is(hex(d.bytes), hex(specBytes(s)), `objdump -d bytes of ${s.name}`);
    if (spec.staticSymbols !== false || isExported(s)) assert.is(d.label, s.name, `objdump label at ${s.name}'s address`);
  }

  // Last, so that the checks above still run on an object eu-elflint rejects.
  if (have('eu-elflint')) assertElflintClean(path, protectedNames(symbols));
  else skipBecause(`eu-elflint on ${c.name}`, 'eu-elflint not installed');
}

const protectedNames = (symbols: readonly SymbolSpec[]): string[] => symbols.filter((s) => s.visibility === 'protected').map((s) => s.name);

for (const c of x86Cases) {
  test(`x86_64 ${c.name}: readelf, eu-elflint, nm and objdump agree with the spec`, () => {
    if (!needs(c.name, 'readelf', 'nm', 'objdump')) return;
    const path = join(dir, `x86-${x86Cases.indexOf(c)}.so`);
    writeSharedObject(path, c.spec);
    checkObject(c, path);
  });
}

// ---------------------------------------------------------------------------
// aarch64

for (const hashStyle of ['both', 'sysv', 'gnu'] as const) {
  test(`aarch64 (${hashStyle} hash): readelf says AArch64 without warnings, eu-elflint finds no errors`, () => {
    if (!needs(`aarch64 ${hashStyle}`, 'readelf', 'nm')) return;
    const path = join(dir, `a64-${hashStyle}.so`);
    const symbols = fullSymbols({ answer: A64_ANSWER, add: A64_ANSWER, zero: A64_ANSWER });
    writeSharedObject(path, { machine: 'aarch64', soname: 'liba64.so', hashStyle, symbols, pointers: fullPointers });
    const out = assertReadelfClean(path);
    assert.match(out, /Machine:\s+AArch64/);
    if (have('eu-elflint')) assertElflintClean(path, protectedNames(symbols));
    else skipBecause(`eu-elflint on aarch64 ${hashStyle}`, 'eu-elflint not installed');
    const relocs = mustRun('readelf', ['-rW', path]).stdout;
    assert.is((relocs.match(/R_AARCH64_RELATIVE/g) ?? []).length, fullPointers!.length, 'one R_AARCH64_RELATIVE per pointer');
    // 64K pages by default: every PT_LOAD maps on 4K, 16K and 64K kernels (offset and address
    // agree modulo 64K), on pages of its own in memory, with the file packed as GNU ld packs it.
    const loads = segments(path).filter((x) => x.type === 'LOAD');
    for (const s of loads) assert.is((s.vaddr - s.offset) % 65536n, 0n, `PT_LOAD at 0x${s.vaddr.toString(16)}, offset 0x${s.offset.toString(16)}`);
    loads
      .slice(1)
      .forEach((s, i) => assert.ok(s.vaddr >= ((loads[i]!.vaddr + loads[i]!.memsz + 65535n) & ~65535n), `PT_LOAD at 0x${s.vaddr.toString(16)} shares a page`));
    assert.ok(readFileSync(path).length < 65536, `${readFileSync(path).length} bytes: 64K alignment is not padded into the file`);
    const dynSyms = nm(path, true);
    for (const s of symbols.filter(isExported)) assert.is(dynSyms.get(s.name)?.letter, expectedLetter(s), `nm -D letter of ${s.name}`);
  });
}

// ---------------------------------------------------------------------------
// StringTableBuilder

/** The strings of a table: the NUL-terminated UTF-8 string starting at `offset`. */
function cString(table: Uint8Array, offset: number): string {
  const end = table.indexOf(0, offset);
  assert.ok(end >= 0, `string at ${offset} is NUL-terminated`);
  return new TextDecoder('utf-8', { fatal: true }).decode(table.subarray(offset, end));
}

function buildTable(strings: readonly string[], limit?: number) {
  const b = new StringTableBuilder(limit);
  const ids = strings.map((s) => b.add(s));
  const size = b.finish();
  const table = new Uint8Array(size + 16);
  b.write(table, 8); // at an offset, to prove offsets are relative to `at`
  const bytes = table.subarray(8, 8 + size);
  assert.ok(table.subarray(0, 8).every((x) => x === 0) && table.subarray(8 + size).every((x) => x === 0), 'writes nothing outside the table');
  return { size, bytes, offsets: ids.map((id) => b.offsetOf(id)), builder: b };
}

/** Smallest table with suffix sharing, by brute force: one copy of each string that is not a suffix of another. */
function optimalSize(strings: readonly string[]): number {
  const distinct = [...new Set(strings)].filter((s) => s.length > 0);
  return 1 + distinct.filter((s) => !distinct.some((t) => t !== s && t.endsWith(s))).reduce((n, s) => n + utf8(s).length + 1, 0);
}

test('StringTableBuilder: "bar" shares the bytes of "foobar"', () => {
  for (const order of [
    ['foobar', 'bar'],
    ['bar', 'foobar'],
  ]) {
    const t = buildTable(order);
    assert.is(t.size, 8);
    assert.is(hex(t.bytes), hex(utf8('\0foobar\0')));
    const foobar = t.offsets[order.indexOf('foobar')]!;
    const bar = t.offsets[order.indexOf('bar')]!;
    assert.is(foobar, 1);
    assert.is(bar, foobar + 3);
  }
});

test('StringTableBuilder: empty string at 0, exact duplicates once, chains of suffixes, non-ASCII suffixes', () => {
  const strings = ['', 'r', 'ar', 'bar', 'foobar', 'xbar', 'foo', 'bar', 'größe', 'öße', 'e', 'x_foo', '😀', 'a😀'];
  const t = buildTable(strings);
  assert.is(t.offsets[0], 0);
  assert.is(t.bytes[0], 0);
  strings.forEach((s, i) => assert.is(cString(t.bytes, t.offsets[i]!), s, `string ${JSON.stringify(s)} reads back`));
  assert.is(t.size, optimalSize(strings), 'every suffix shares its longest container');
  const b = new StringTableBuilder();
  assert.is(b.add('same'), b.add('same'));
  assert.is(b.count, 1);
  b.finish();
  assert.throws(() => b.add('late'), /after finish/);
});

test('StringTableBuilder: past the sharing limit only exact duplicates are shared', () => {
  const strings = ['foobar', 'bar', 'baz', 'bar'];
  const t = buildTable(strings, 2); // 3 distinct strings > limit 2
  assert.is(t.size, 1 + 7 + 4 + 4);
  assert.is(t.offsets[1], t.offsets[3], 'exact duplicate shared');
  assert.ok(t.offsets[1]! < t.offsets[0]! || t.offsets[1]! >= t.offsets[0]! + 7, '"bar" has its own bytes');
  strings.forEach((s, i) => assert.is(cString(t.bytes, t.offsets[i]!), s));
  const atLimit = buildTable(['foobar', 'bar'], 2); // exactly at the limit: still shared
  assert.is(atLimit.size, 8);
});

test('StringTableBuilder: random string sets read back and are as small as brute force says', () => {
  const alphabet = fc.constantFrom('a', 'b', 'o', 'ö', '_', '😀', 'x');
  fc.assert(
    fc.property(
      fc.array(
        fc.array(alphabet, { maxLength: 6 }).map((a) => a.join('')),
        { maxLength: 40 },
      ),
      fc.boolean(),
      (strings, limited) => {
        const t = buildTable(strings, limited ? 3 : undefined);
        strings.forEach((s, i) => assert.is(cString(t.bytes, t.offsets[i]!), s));
        if (!limited || new Set(strings).size <= 3) assert.is(t.size, optimalSize(strings));
        else assert.is(t.size, 1 + [...new Set(strings)].filter((s) => s).reduce((n, s) => n + utf8(s).length + 1, 0));
      },
    ),
    { numRuns: 300, seed: 0x5eed },
  );
});

// ---------------------------------------------------------------------------
// Hash functions against textbook C implementations.

const HASH_C = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* The System V ABI's elf_hash, with 32-bit arithmetic on unsigned bytes. */
static uint32_t elf_hash(const unsigned char *name) {
  uint32_t h = 0, g;
  while (*name) {
    h = (h << 4) + *name++;
    if ((g = h & 0xf0000000u) != 0) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}
/* GNU's dl_new_hash: h = h * 33 + c, from 5381. */
static uint32_t dl_new_hash(const unsigned char *s) {
  uint32_t h = 5381;
  for (unsigned char c = *s; c != '\0'; c = *++s) h = h * 33 + c;
  return h;
}
/* Each input line is a name in hex ("-" for the empty name); prints "elf gnu" in decimal. */
int main(void) {
  static char line[1 << 16];
  static unsigned char name[1 << 15];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = 0;
    for (char *p = line; p[0] && p[0] != '\n' && p[0] != '-'; p += 2) {
      unsigned v;
      sscanf(p, "%2x", &v);
      name[n++] = (unsigned char)v;
    }
    name[n] = 0;
    printf("%u %u\n", elf_hash(name), dl_new_hash(name));
  }
  return 0;
}
`;

test('elfHash and gnuHash agree with textbook C over ASCII, non-ASCII and raw bytes', () => {
  if (!needs('hash functions against C', 'gcc')) return;
  const exe = compileC(dir, 'hashes', HASH_C, [], join(dir, 'hashes'));
  const names: Uint8Array[] = [
    '',
    'a',
    'printf',
    'dlopen',
    '_ZNSt6vectorIiSaIiEE9push_backERKi',
    'abcdefghijklmnopqrstuvwxyz0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    'größe',
    '日本語の関数',
    '😀',
    '\u007f\u0080\u00ff',
    'ÿÿÿÿÿÿÿÿÿÿ',
    'x'.repeat(1000),
  ].map(utf8);
  names.push(new Uint8Array([0xff, 0xfe, 0x80, 0x01]), new Uint8Array([0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0, 0xf0]));
  let seed = 12345;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + rand(40);
    const bytes = Array.from({ length: len }, () => 1 + rand(255));
    names.push(new Uint8Array(bytes));
  }
  const input = `${names.map((b) => (b.length === 0 ? '-' : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''))).join('\n')}\n`;
  const lines = mustRun(exe, [], { input }).stdout.trim().split('\n');
  assert.is(lines.length, names.length);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let viaString = 0;
  names.forEach((b, i) => {
    const [e, g] = lines[i]!.split(' ').map(Number);
    assert.is(elfHash(b), e, `elfHash of ${hex(b)}`);
    assert.is(gnuHash(b), g, `gnuHash of ${hex(b)}`);
    let s: string;
    try {
      s = decoder.decode(b);
    } catch {
      return; // not UTF-8: only the byte variants apply
    }
    viaString++;
    assert.is(elfHashString(s), e, `elfHashString(${JSON.stringify(s)})`);
    assert.is(gnuHashString(s), g, `gnuHashString(${JSON.stringify(s)})`);
  });
  assert.ok(viaString > 12, 'the string variants were exercised');
});

// ---------------------------------------------------------------------------
// Spec validation

const goodSymbols = (): SymbolSpec[] => [
  { name: 'f', section: 'text', bytes: X86_ANSWER },
  { name: 'd', section: 'data', size: 16 },
];
const badSpecs: Array<[string, string, () => SharedObjectSpec]> = [
  ['empty name', 'symbols[0].name', () => ({ symbols: [{ name: '', section: 'text', bytes: [0xc3] }] })],
  ['NUL in name', 'symbols[0].name', () => ({ symbols: [{ name: 'a\0b', section: 'text', bytes: [0xc3] }] })],
  ['duplicate name', 'symbols[2].name', () => ({ symbols: [...goodSymbols(), { name: 'f', section: 'rodata', bytes: [1] }] })],
  ['bad section', 'symbols[0].section', () => ({ symbols: [{ name: 'x', section: 'heap' as never, bytes: [1] }] })],
  ['bad kind', 'symbols[0].kind', () => ({ symbols: [{ name: 'x', section: 'data', kind: 'tls' as never, bytes: [1] }] })],
  ['align 3', 'symbols[0].align', () => ({ symbols: [{ name: 'x', section: 'data', bytes: [1], align: 3 }] })],
  ['bss with bytes', 'symbols[0].bytes', () => ({ symbols: [{ name: 'x', section: 'bss', bytes: [1], size: 1 }] })],
  ['negative size', 'symbols[0].size', () => ({ symbols: [{ name: 'x', section: 'bss', size: -8 }] })],
  ['size smaller than bytes', 'symbols[0].size', () => ({ symbols: [{ name: 'x', section: 'rodata', bytes: [1, 2, 3], size: 2 }] })],
  ['unknown pointer target', 'pointers[0].target', () => ({ symbols: goodSymbols(), pointers: [{ symbol: 'd', target: 'nowhere' }] })],
  ['pointer in text', 'pointers[0].symbol', () => ({ symbols: goodSymbols(), pointers: [{ symbol: 'f', target: 'd' }] })],
  ['bad machine', 'machine', () => ({ machine: 'mips' as never, symbols: goodSymbols() })],
  ['bad hashStyle', 'hashStyle', () => ({ hashStyle: 'fast' as never, symbols: goodSymbols() })],
  ['pageSize 1000', 'pageSize', () => ({ pageSize: 1000, symbols: goodSymbols() })],
  ['pointers not an array', 'pointers', () => ({ pointers: {} as never, symbols: goodSymbols() })],
  ['a null pointer entry', 'pointers[0]', () => ({ pointers: [null as never], symbols: goodSymbols() })],
  ['staticSymbols not a boolean', 'staticSymbols', () => ({ staticSymbols: 'no' as never, symbols: goodSymbols() })],
  ['soname not a string', 'soname', () => ({ soname: 42 as never, symbols: goodSymbols() })],
];

test('spec validation: each bad field throws ElfBuildError naming the field, and no file is written', () => {
  assert.ok(buildSharedObject({ symbols: goodSymbols(), pointers: [{ symbol: 'd', target: 'f' }] }).length > 0, 'the good spec builds');
  const vdir = join(dir, 'validation');
  mkdirSync(vdir);
  for (const [what, field, make] of badSpecs) {
    let err: unknown;
    try {
      writeSharedObject(join(vdir, 'bad.so'), make());
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ElfBuildError, `${what}: expected ElfBuildError, got ${String(err)}`);
    const e = err as ElfBuildError;
    assert.is(e.field, field, `${what}: .field`);
    assert.ok(e.message.includes(field), `${what}: message ${JSON.stringify(e.message)} names ${field}`);
  }
  assert.equal(readdirSync(vdir), [], 'no file, not even a temporary one, is left behind');
  assert.ok(!existsSync(join(vdir, 'bad.so')));
});

test.run();
