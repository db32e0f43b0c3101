// readElf(buildSharedObject(spec)) gives back what the spec said: the writer
// and the reader check each other, over hand-picked and random specs.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type SharedObjectSpec, type SymbolSpec, buildSharedObject, elf, readElf } from '../src/index.js';
import { specBytes, specSize } from './helpers/spec.js';

const SECTION_NAME = { text: '.text', rodata: '.rodata', data: '.data', bss: '.bss' } as const;

/** Checks every spec symbol against what the reader decodes from the built object. */
function checkRoundTrip(spec: SharedObjectSpec): void {
  const bytes = buildSharedObject(spec);
  const f = readElf(bytes);
  assert.is(f.header.e_type, elf.ET_DYN);
  assert.is(f.machine, spec.machine ?? 'x86_64');
  assert.is(f.soname, spec.soname);
  assert.equal(f.needed, [...(spec.needed ?? [])]);
  const style = spec.hashStyle ?? 'both';
  assert.is(f.sysvHash !== undefined, style !== 'gnu');
  assert.is(f.gnuHash !== undefined, style !== 'sysv');
  const symbols = spec.symbols ?? [];
  const exported = symbols.filter((s) => s.visibility !== 'hidden' && s.visibility !== 'internal');
  assert.is(f.dynamicSymbols.length, exported.length + 1);
  assert.is(f.symbols.length, spec.staticSymbols === false ? 0 : symbols.length + 1);
  const byName = new Map(f.symbols.map((s) => [s.name, s]));
  for (const s of symbols) {
    const hidden = s.visibility === 'hidden' || s.visibility === 'internal';
    const dyn = f.dynamicSymbols.find((d) => d.name === s.name);
    assert.is(dyn !== undefined, !hidden, s.name);
    const found = f.lookup(s.name);
    assert.is(found?.name, hidden ? undefined : s.name, `lookup(${s.name})`);
    const sym = dyn ?? byName.get(s.name);
    if (sym === undefined) continue;
    const size = specSize(s);
    assert.is(sym.st_size, BigInt(size), `${s.name} size`);
    const kind = s.kind ?? (s.section === 'text' ? 'func' : 'object');
    assert.is(sym.type, kind === 'func' ? elf.STT_FUNC : kind === 'object' ? elf.STT_OBJECT : elf.STT_NOTYPE);
    assert.is(sym.bind, hidden ? elf.STB_LOCAL : s.binding === 'weak' ? elf.STB_WEAK : elf.STB_GLOBAL);
    const section = f.sections[sym.st_shndx]!;
    assert.is(section.name, SECTION_NAME[s.section], `${s.name} section`);
    assert.ok(sym.st_value >= section.sh_addr && sym.st_value + sym.st_size <= section.sh_addr + section.sh_size, `${s.name} inside its section`);
    assert.is(sym.st_value % BigInt(s.align ?? (s.section === 'text' ? 16 : 8)), 0n, `${s.name} aligned`);
    if (s.section !== 'bss') {
      const off = Number(sym.st_value - section.sh_addr + section.sh_offset);
      const want = new Uint8Array(size);
      want.set(specBytes(s));
      assert.equal([...bytes.subarray(off, off + size)], [...want], `${s.name} bytes`);
    }
  }
  for (const name of ['not_there', 'x']) if (!symbols.some((s) => s.name === name)) assert.is(f.lookup(name), undefined);
}

test('hand-picked specs round-trip', () => {
  const symbols: SymbolSpec[] = [
    { name: 'answer', section: 'text', bytes: [0xb8, 42, 0, 0, 0, 0xc3] },
    { name: 'padded', section: 'text', bytes: [0xc3], size: 32, align: 64 },
    { name: 'w', section: 'text', bytes: [0xc3], binding: 'weak' },
    { name: 'h', section: 'data', bytes: [1, 2], visibility: 'hidden' },
    { name: 'p', section: 'rodata', bytes: [9, 9, 9], visibility: 'protected' },
    { name: 'zeros', section: 'bss', size: 4096, align: 4096 },
    { name: 'grüße', section: 'data', bytes: [7], kind: 'notype' },
  ];
  for (const hashStyle of ['sysv', 'gnu', 'both'] as const) {
    for (const machine of ['x86_64', 'aarch64'] as const) {
      checkRoundTrip({ machine, hashStyle, soname: 'librt.so', needed: ['libc.so.6', 'libm.so.6'], symbols });
      checkRoundTrip({ machine, hashStyle, symbols, dynamicWritable: false, staticSymbols: false });
    }
  }
  checkRoundTrip({ symbols: [] });
});

test('symbol counts around 0xffff and 0x10000 round-trip', () => {
  for (const n of [0xfffe, 0xffff, 0x10000, 0x10001]) {
    const symbols: SymbolSpec[] = Array.from({ length: n }, (_, i) => ({ name: `s${i}`, section: 'data', size: 1, bytes: [i & 0xff] }));
    const f = readElf(buildSharedObject({ symbols, staticSymbols: false }));
    assert.is(f.dynamicSymbols.length, n + 1);
    for (const i of [0, 1, n >> 1, n - 1]) assert.is(f.lookup(`s${i}`)?.st_size, 1n, `s${i} of ${n}`);
  }
});

const nameArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.$]{0,24}$/);
const symbolArb: fc.Arbitrary<SymbolSpec> = fc
  .record({
    name: nameArb,
    section: fc.constantFrom('text', 'rodata', 'data', 'bss'),
    kind: fc.constantFrom('func', 'object', 'notype', undefined),
    binding: fc.constantFrom('global', 'weak', undefined),
    visibility: fc.constantFrom('default', 'protected', 'hidden', 'internal', undefined),
    align: fc.constantFrom(1, 2, 8, 16, 64, undefined),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  })
  .map((s): SymbolSpec => {
    const clean = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as SymbolSpec & { bytes: Uint8Array };
    if (clean.section === 'bss') return { ...clean, bytes: undefined, size: clean.bytes.length };
    return clean;
  });

test('random specs round-trip (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(symbolArb, { selector: (s) => s.name, maxLength: 40 }),
      fc.constantFrom('sysv', 'gnu', 'both'),
      fc.constantFrom('x86_64', 'aarch64'),
      fc.boolean(),
      (symbols, hashStyle, machine, dynamicWritable) => {
        checkRoundTrip({ symbols, hashStyle: hashStyle as 'sysv', machine: machine as 'x86_64', dynamicWritable });
      },
    ),
    { numRuns: 300 },
  );
});

test.run();
