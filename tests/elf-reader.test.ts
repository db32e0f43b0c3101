import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GLIBC_RELOCATED_TAGS, readElf, type ElfFile } from '../src/elf/reader.js';
import { ElfFormatError } from '../src/elf/errors.js';
import { DT_INIT_ARRAY, DT_SYMTAB, PT_DYNAMIC, PT_LOAD, PT, SHT, STT_GNU_IFUNC, STT_TLS } from '../src/elf/constants.js';
import { SAMPLE_C, buildSharedObject, fileBytes, handmadeElf, memoryImage, readelf, readelfDynSyms, sampleDir, systemLibrary } from './elf-samples.js';
import { compileC, mustRun, skipBecause } from './helpers/tools.js';

const libc = systemLibrary('libc.so.6');
const gnuSo = buildSharedObject('sample-gnu', SAMPLE_C(300));
const sysvSo = buildSharedObject('sample-sysv', SAMPLE_C(300), ['-Wl,--hash-style=sysv']);
const bothSo = buildSharedObject('sample-both', SAMPLE_C(40), ['-Wl,--hash-style=both']);
const samples = [libc, gnuSo, sysvSo, bothSo];

/** readelf's section type names where they are not SHT_'s. */
const readelfSectionType = (type: number): string => (type === 0x13 ? 'RELR' : SHT.name(type).replace(/^SHT_(GNU_(?=VER))?/, ''));

/**
 * Asks the real ld.so, for each name on stdin: does dlsym find it at all, and is the address
 * inside `path` itself (an IFUNC may resolve elsewhere, such as gettimeofday into the vDSO).
 */
const dlsymProbe = (() => {
  const exe = compileC(
    sampleDir,
    'probe',
    `#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
static int abs0_or_self(void *p, int found, struct link_map *self) {
  Dl_info info; struct link_map *lm = 0;
  if (p == 0) return found;
  return dladdr1(p, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm == self;
}
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "%s\\n", dlerror()); return 1; }
  struct link_map *self; dlinfo(h, RTLD_DI_LINKMAP, &self);
  char name[4096];
  while (fgets(name, sizeof name, stdin)) {
    name[strcspn(name, "\\n")] = 0;
    dlerror();
    /* A SHN_ABS symbol of value 0 (a version name) comes back as NULL with no error. */
    void *p = dlsym(h, name);
    int found = p != 0 || dlerror() == 0;
    printf("%d %d\\n", found, abs0_or_self(p, found, self));
  }
  return 0;
}
`,
    ['-ldl'],
    join(sampleDir, 'probe'),
  );
  return (path: string, names: string[]): { found: boolean; self: boolean }[] =>
    mustRun(exe, [path], { input: `${names.join('\n')}\n` })
      .stdout.trim()
      .split('\n')
      .map((l) => ({ found: l[0] === '1', self: l[2] === '1' }));
})();

const parsed = new Map<string, { bytes: Uint8Array; elf: ElfFile }>();
function load(path: string): { bytes: Uint8Array; elf: ElfFile } {
  let p = parsed.get(path);
  if (!p) {
    const bytes = fileBytes(path);
    p = { bytes, elf: readElf(bytes) };
    parsed.set(path, p);
  }
  return p;
}

function field(text: string, label: string): string {
  const m = new RegExp(`^\\s*${label}:\\s+(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`readelf printed no ${label}`);
  return m[1]!.trim();
}

for (const path of samples) {
  const short = path.split('/').pop();

  test(`${short}: dynamic symbols agree with readelf --dyn-syms`, () => {
    const { elf } = load(path);
    const expected = readelfDynSyms(path);
    assert.is(elf.dynamicSymbols.length, expected.length);
    for (const e of expected) {
      const s = elf.dynamicSymbols[e.index]!;
      if (s.name !== e.name || s.st_value !== e.value || s.st_size !== e.size) {
        assert.fixture(`${s.name} ${s.st_value} ${s.st_size}`, `${e.name} ${e.value} ${e.size}`, `symbol ${e.index}`);
      }
    }
  });

  test(`${short}: header, segments and sections agree with readelf -h -l -S`, () => {
    const { elf } = load(path);
    const h = readelf(['-h'], path);
    assert.is(elf.header.e_phnum, Number(field(h, 'Number of program headers')));
    assert.is(elf.header.e_shnum, Number(field(h, 'Number of section headers')));
    assert.is(elf.header.e_shstrndx, Number(field(h, 'Section header string table index')));
    assert.is(elf.header.e_entry, BigInt(field(h, 'Entry point address')));
    assert.is(elf.header.e_shoff, BigInt(field(h, 'Start of section headers').split(' ')[0]!));
    assert.is(elf.machine, 'x86_64');

    const segs = readelf(['-l'], path)
      .split('\n')
      .map((l) => /^\s+([A-Z_]+|LOOS\+0x[0-9a-f]+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)/.exec(l))
      .filter((m) => m !== null);
    assert.is(elf.segments.length, segs.length);
    segs.forEach((m, i) => {
      const p = elf.segments[i]!;
      assert.is(PT.name(p.p_type).replace(/^PT_/, ''), m[1]);
      assert.equal(
        [p.p_offset, p.p_vaddr, p.p_filesz, p.p_memsz],
        [m[2], m[3], m[5], m[6]].map((x) => BigInt(x!)),
      );
    });

    const secs = readelf(['-S'], path)
      .split('\n')
      .map((l) => /^\s*\[\s*(\d+)\] (.*)$/.exec(l))
      .filter((m) => m !== null);
    assert.is(elf.sections.length, secs.length);
    for (const m of secs) {
      const tokens = m[2]!.trim().split(/\s+/);
      const a = tokens.findIndex((t) => /^[0-9a-f]{16}$/.test(t));
      const s = elf.sections[Number(m[1])]!;
      assert.is(s.name, tokens.slice(0, a - 1).join(' '));
      assert.is(readelfSectionType(s.sh_type), tokens[a - 1]);
      assert.equal(
        [s.sh_addr, s.sh_offset, s.sh_size],
        tokens.slice(a, a + 3).map((x) => BigInt(`0x${x}`)),
      );
    }
    assert.is(elf.section('.dynsym')?.sh_type, 11);
    assert.is(elf.section('.no-such-section'), undefined);
  });

  test(`${short}: lookup() agrees with dlsym on every dynamic symbol name`, () => {
    const { elf } = load(path);
    const names = [...new Set(elf.dynamicSymbols.filter((s) => s.type !== STT_TLS && s.name !== '').map((s) => s.name))];
    names.push('no_such_symbol', 'printf_', 'generated_999999', 'a');
    const probe = dlsymProbe(path, names);
    const expected = readelfDynSyms(path);
    let defined = 0;
    names.forEach((name, i) => {
      const s = elf.lookup(name);
      const { found, self } = probe[i]!;
      const agrees = s === undefined ? !self : self || (found && s.type === STT_GNU_IFUNC);
      if (!agrees) assert.unreachable(`lookup(${name}) = ${s?.st_value}, dlsym: found ${found}, in this object ${self}`);
      if (s === undefined) return;
      defined++;
      assert.is(s.name, name);
      // dlsym returns the default version: the @@ (or unversioned) definition.
      const want = expected.find((e) => e.name === name && e.ndx !== 'UND' && e.version !== '@');
      if (want) assert.is(s.st_value, want.value, name);
    });
    assert.ok(defined > (path === libc ? 2000 : path === bothSo ? 40 : 300), `only ${defined} symbols found`);
  });
}

test('the samples use the hash tables they were built with', () => {
  assert.ok(load(gnuSo).elf.gnuHash && !load(gnuSo).elf.sysvHash);
  assert.ok(load(sysvSo).elf.sysvHash && !load(sysvSo).elf.gnuHash);
  assert.ok(load(bothSo).elf.sysvHash && load(bothSo).elf.gnuHash);
  assert.is(load(libc).elf.soname, 'libc.so.6');
  assert.equal(load(libc).elf.needed, ['ld-linux-x86-64.so.2']);
  assert.ok(load(gnuSo).elf.needed.includes('libc.so.6'));
});

test('undefined, local, hidden and absent names are not found', () => {
  for (const path of [gnuSo, sysvSo]) {
    const { elf } = load(path);
    assert.ok(
      elf.dynamicSymbols.some((s) => s.name === 'printf'),
      'printf is an undefined dynamic symbol',
    );
    for (const name of ['printf', 'local_fn', 'hidden_fn', 'nothing_here', '']) assert.is(elf.lookup(name), undefined, name);
    for (const name of ['add', 'counter', 'greeting', 'weak_fn', 'protected_fn', 'generated_0', 'generated_299']) {
      assert.is(elf.lookup(name)?.name, name);
    }
  }
});

test('relocations: DT_RELA then DT_JMPREL, as .rela.dyn and .rela.plt', () => {
  const { elf } = load(libc);
  const out = readelf(['-r'], libc);
  const count = (name: string) => Number(new RegExp(`Relocation section '\\${name}' at offset 0x[0-9a-f]+ contains (\\d+) entries`).exec(out)![1]);
  assert.equal(
    elf.relocationTables.map((t) => [t.source, t.entries.length]),
    [
      ['DT_RELA', count('.rela.dyn')],
      ['DT_JMPREL', count('.rela.plt')],
      ['DT_RELR', 0],
    ],
  );
  assert.is(elf.relocations.length, count('.rela.dyn') + count('.rela.plt'));
  const m = /Relocation section '\.rela\.dyn'/.exec(out)!;
  const first = /^([0-9a-f]{16})\s+([0-9a-f]{16})\s+\S+\s+([0-9a-f]+)?/m.exec(out.slice(m.index))!;
  assert.is(elf.relocations[0]!.r_offset, BigInt(`0x${first[1]}`));
  assert.is(elf.relocations[0]!.r_info, BigInt(`0x${first[2]}`));
});

for (const path of [gnuSo, sysvSo, libc]) {
  test(`memory layout: ${path.split('/').pop()} read from a loaded image`, () => {
    const { bytes, elf } = load(path);
    const image = memoryImage(bytes, elf);
    const mem = readElf(image, { layout: 'memory' });
    assert.equal(mem.sections, []);
    assert.equal(mem.dynamicSymbols, elf.dynamicSymbols);
    assert.equal(mem.dynamic, elf.dynamic);
    assert.equal(mem.relocations, elf.relocations);
    for (const s of elf.dynamicSymbols.slice(0, 500)) assert.equal(mem.lookup(s.name), elf.lookup(s.name));

    // As glibc leaves a writable .dynamic: every d_ptr moved by the load bias.
    const loadBase = 0x7f12_3456_0000n;
    const relocated = image.slice();
    const view = new DataView(relocated.buffer);
    const dyn = elf.segments.find((p) => p.p_type === PT_DYNAMIC)!;
    for (let o = Number(dyn.p_vaddr); view.getBigInt64(o, true) !== 0n; o += 16) {
      if (GLIBC_RELOCATED_TAGS.has(Number(view.getBigInt64(o, true)))) view.setBigUint64(o + 8, view.getBigUint64(o + 8, true) + loadBase, true);
    }
    const moved = readElf(relocated, { layout: 'memory', dynamicRelocated: true, loadBase });
    assert.equal(moved.dynamicSymbols, elf.dynamicSymbols);
    assert.equal(moved.dynamic, elf.dynamic);
    assert.throws(
      () => readElf(relocated, { layout: 'memory' }),
      (e: unknown) => e instanceof ElfFormatError,
    );
  });
}

test('memory layout: the live libc of this process, .dynamic as glibc relocated it', () => {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const m = /^([0-9a-f]+)-[0-9a-f]+ r..p 00000000 \S+ \d+\s+(\S*\/libc\.so\.6)$/m.exec(maps);
  if (!m) return skipBecause('live libc', 'no libc.so.6 mapping in /proc/self/maps');
  const loadBase = BigInt(`0x${m[1]}`);
  const { elf } = load(m[2]!);
  // Copy each PT_LOAD's pages out of our own memory; the gaps between them may be unmapped.
  const image = new Uint8Array(memoryImage(fileBytes(m[2]!), elf).length);
  const fd = openSync('/proc/self/mem', 'r');
  try {
    for (const p of elf.segments.filter((p) => p.p_type === PT_LOAD)) {
      const start = p.p_vaddr & ~(p.p_align - 1n);
      readSync(fd, image, Number(start), Number(p.p_vaddr + p.p_filesz - start), loadBase + start);
    }
  } finally {
    closeSync(fd);
  }
  const raw = new Map<number, bigint>();
  const view = new DataView(image.buffer);
  const dyn = elf.segments.find((p) => p.p_type === PT_DYNAMIC)!;
  for (let o = Number(dyn.p_vaddr); view.getBigInt64(o, true) !== 0n; o += 16) raw.set(Number(view.getBigInt64(o, true)), view.getBigUint64(o + 8, true));
  const linked = (tag: number) => elf.dynamic.find((e) => e.d_tag === tag)!.d_val;
  assert.is(raw.get(DT_SYMTAB), linked(DT_SYMTAB) + loadBase, 'glibc relocated DT_SYMTAB in place');
  assert.is(raw.get(DT_INIT_ARRAY), linked(DT_INIT_ARRAY), 'but not DT_INIT_ARRAY');
  assert.throws(
    () => readElf(image, { layout: 'memory' }),
    (e: unknown) => e instanceof ElfFormatError,
  );
  const live = readElf(image, { layout: 'memory', dynamicRelocated: true, loadBase });
  assert.equal(live.dynamic, elf.dynamic);
  assert.equal(live.dynamicSymbols, elf.dynamicSymbols);
  assert.is(live.lookup('printf')?.st_value, elf.lookup('printf')!.st_value);
});

test('1,000,000 dynamic symbols decode (the time is printed; bench/ measures it)', () => {
  const names = Array.from({ length: 1_000_000 }, (_, i) => `symbol_${i}`);
  const { bytes } = handmadeElf(names);
  readElf(handmadeElf(names.slice(0, 1000)).bytes); // warm up
  const started = performance.now();
  const elf = readElf(bytes);
  const ms = performance.now() - started;
  console.log(`  1,000,000 dynamic symbols: ${ms.toFixed(0)} ms`);
  assert.is(elf.dynamicSymbols.length, 1_000_001);
  assert.is(elf.dynamicSymbols[777_777]!.name, 'symbol_777776');
  assert.is(elf.lookup('symbol_999999')?.st_value, 0x100n + 999_999n);
});

test('unsupported classes and byte orders are refused by name', () => {
  const { bytes } = handmadeElf(['f']);
  const b32 = bytes.slice();
  b32[4] = 1;
  assert.throws(() => readElf(b32), /unsupported ELF class/);
  const be = bytes.slice();
  be[5] = 2;
  assert.throws(() => readElf(be), /unsupported byte order/);
  assert.throws(
    () => readElf(bytes.subarray(0, 3)),
    (e: unknown) => e instanceof ElfFormatError,
  );
});

test.run();
