// readElf against readelf -W -r --dyn-syms -V -n, on every kind of object at hand: libc.so.6, a
// gcc .o, gcc-built objects with imports, a version script, DT_RELR and a static PIE, and
// dlbind's own offline output. Every relocation (offset, type, symbol name with version,
// addend), every version definition and need, each dynamic symbol's version and every note.
// Versioned lookup is checked against the real dlvsym.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSharedObject as dlbindBuild } from '../src/elf/builder.js';
import { STT_SECTION } from '../src/elf/constants.js';
import { type ElfFile, readElf } from '../src/elf/reader.js';
import { writeFileSync } from 'node:fs';
import { SAMPLE_C, buildSharedObject, fileBytes, readelf, readelfDynSyms, sampleDir, systemLibrary } from './elf-samples.js';
import { compileC, mustRun } from './helpers/tools.js';

const libc = systemLibrary('libc.so.6');

const objectC = `
#include <stdio.h>
static const char *names[] = { "a", "b" };
int counter;
int use(int i) { counter += i; return puts(names[i & 1]); }
`;
function gccObject(name: string, flags: string[]): string {
  const src = join(sampleDir, `${name}.c`);
  const out = join(sampleDir, `${name}.o`);
  writeFileSync(src, objectC);
  mustRun('gcc', ['-c', '-O2', ...flags, '-o', out, src]);
  return out;
}

/** Two versions of f (V1 hidden, V2 default), a V2-only g, and imports of puts and memcpy. */
function versionedLibrary(): string {
  writeFileSync(join(sampleDir, 'v.map'), 'V1 { global: f; local: *; };\nV2 { global: f; g; } V1;\n');
  return buildSharedObject(
    'libversioned',
    `#include <stdio.h>
#include <string.h>
int f_old(void) { return 1; }
int f_new(void) { return 2; }
__asm__(".symver f_old,f@V1");
__asm__(".symver f_new,f@@V2");
char buf[16];
int g(const char *s) { memcpy(buf, s, 4); return puts(s); }
`,
    [`-Wl,--version-script=${join(sampleDir, 'v.map')}`],
  );
}

const dlbindObject = (): string => {
  const path = join(sampleDir, 'libdlbind-offline.so');
  writeFileSync(
    path,
    dlbindBuild({
      soname: 'liboffline.so',
      needed: ['libc.so.6'],
      symbols: [
        { name: 'answer', section: 'text', bytes: [0xb8, 0x2a, 0, 0, 0, 0xc3] },
        { name: 'table', section: 'rodata', bytes: new Uint8Array(16) },
        { name: 'self', section: 'data', size: 8 },
        { name: 'other', section: 'data', size: 8 },
      ],
      pointers: [
        { symbol: 'self', target: 'table' },
        { symbol: 'other', target: 'answer' },
      ],
    }),
  );
  return path;
};

/** The offline writer's imports, GOT and PLT (lazy), versioned exports, DT_RELR and build-id, for one machine. */
function writerObject(machine: 'x86_64' | 'aarch64'): string {
  const glibc = machine === 'x86_64' ? 'GLIBC_2.2.5' : 'GLIBC_2.17';
  const path = join(sampleDir, `libwriter-${machine}.so`);
  const x86 = machine === 'x86_64';
  writeFileSync(
    path,
    dlbindBuild({
      machine,
      soname: `libwriter-${machine}.so`,
      needed: ['libc.so.6'],
      imports: [`printf@${glibc}`, { name: 'stdout', version: glibc, kind: 'object' }, 'puts'],
      symbols: [
        // call rel32; mov rax, [rip + rel32]; ret (the writer fills the fields)
        { name: 'hello', section: 'text', bytes: x86 ? [0xe8, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3] : [0xc0, 0x03, 0x5f, 0xd6] },
        { name: 'old_f', section: 'text', bytes: x86 ? [0xc3] : [0xc0, 0x03, 0x5f, 0xd6], version: 'V1', defaultVersion: false },
        { name: 'f', section: 'text', bytes: x86 ? [0xc3] : [0xc0, 0x03, 0x5f, 0xd6], version: 'V2' },
        { name: 'fmt', section: 'rodata', bytes: new TextEncoder().encode('hi %d\n\0') },
        { name: 'table', section: 'data', size: 32 },
      ],
      pointers: [
        { symbol: 'table', target: 'puts' },
        { symbol: 'table', offset: 8, target: 'printf', relocation: 'glob_dat' },
        { symbol: 'table', offset: 16, target: 'fmt' },
        { symbol: 'table', offset: 24, target: 'hello' },
      ],
      references: x86
        ? [
            { symbol: 'hello', offset: 1, target: 'printf' },
            { symbol: 'hello', offset: 8, target: 'stdout', via: 'got' },
          ]
        : [],
      bindNow: false,
      relr: true,
      buildId: true,
    }),
  );
  return path;
}

const objects: [string, string][] = [
  ['dlbind writer .so: imports, PLT, GOT, versions, RELR, build-id', writerObject('x86_64')],
  ['dlbind writer aarch64 .so: imports, versions, RELR, build-id', writerObject('aarch64')],
  ['libc.so.6', libc],
  ['gcc .o', gccObject('object', [])],
  ['gcc .o with -fcf-protection', gccObject('object-cet', ['-fcf-protection'])],
  ['gcc .so with a version script', versionedLibrary()],
  ['gcc .so, DT_RELR', buildSharedObject('librelr', SAMPLE_C(20), ['-Wl,-z,pack-relative-relocs'])],
  ['gcc .so, lazy binding and SysV hash', buildSharedObject('liblazy', SAMPLE_C(5), ['-Wl,-z,lazy', '-Wl,--hash-style=sysv'])],
  ['gcc PIE', compileC(sampleDir, 'pie', `#include <stdio.h>\nint main(void) { return puts("x") < 0; }\n`, ['-pie', '-fPIE'], join(sampleDir, 'pie'))],
  ['dlbind offline .so', dlbindObject()],
];

interface ReadelfReloc {
  offset: bigint;
  type: string;
  symbol: string;
  addend: bigint;
}

/** readelf -r, by section: the RELA/REL entries, or the RELR addresses. */
function readelfRelocs(path: string): Map<string, { entries: ReadelfReloc[]; addresses: bigint[] }> {
  const out = new Map<string, { entries: ReadelfReloc[]; addresses: bigint[] }>();
  let current: { entries: ReadelfReloc[]; addresses: bigint[] } | undefined;
  for (const line of readelf(['-r'], path).split('\n')) {
    const head = /^Relocation section '(.*)' at offset 0x[0-9a-f]+ contains \d+ entr/.exec(line);
    if (head) {
      current = { entries: [], addresses: [] };
      out.set(head[1]!, current);
      continue;
    }
    if (!current) continue;
    const withSym = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s+[0-9a-f]{16}\s+(.*?)(?: ([+-]) ([0-9a-f]+))?$/.exec(line);
    if (withSym) {
      const addend = withSym[5] === undefined ? 0n : BigInt(`0x${withSym[5]}`) * (withSym[4] === '-' ? -1n : 1n);
      current.entries.push({ offset: BigInt(`0x${withSym[1]}`), type: withSym[2]!, symbol: withSym[3]!, addend });
      continue;
    }
    const noSym = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s*([0-9a-f]*)$/.exec(line);
    if (noSym) {
      const addend = noSym[3] === '' ? 0n : BigInt.asIntN(64, BigInt(`0x${noSym[3]}`));
      current.entries.push({ offset: BigInt(`0x${noSym[1]}`), type: noSym[2]!, symbol: '', addend });
      continue;
    }
    const relr = /^([0-9a-f]{16})(?:\s.*)?$/.exec(line);
    if (relr) current.addresses.push(BigInt(`0x${relr[1]}`));
  }
  return out;
}

function tableName(file: ElfFile, t: ElfFile['relocationTables'][number]): string {
  return t.section === undefined ? t.source : file.sections[t.section]!.name;
}

/** The name readelf shows for relocation `e`'s symbol. */
function relocSymbol(file: ElfFile, t: ElfFile['relocationTables'][number], e: ElfFile['relocations'][number]): string {
  if (t.symbols !== 'dynamic' || e.sym === 0) return e.symbolName;
  const s = file.dynamicSymbols[e.sym]!;
  return s.type === STT_SECTION ? e.symbolName : file.versionedName(e.sym);
}

for (const [what, path] of objects) {
  const file = readElf(fileBytes(path));

  test(`${what}: every relocation agrees with readelf -r`, () => {
    const expected = readelfRelocs(path);
    const ours = new Map(file.relocationTables.map((t) => [tableName(file, t), t]));
    assert.equal([...ours.keys()].sort(), [...expected.keys()].sort(), 'the same tables');
    let n = 0;
    for (const [name, want] of expected) {
      const t = ours.get(name)!;
      if (t.format === 'relr') {
        assert.equal([...t.addresses!], want.addresses, name);
        n += want.addresses.length;
        continue;
      }
      assert.is(t.entries.length, want.entries.length, name);
      t.entries.forEach((e, i) => {
        const w = want.entries[i]!;
        const got = { offset: e.r_offset, type: e.typeName, symbol: relocSymbol(file, t, e), addend: e.r_addend };
        if (
          JSON.stringify(got, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)) !==
          JSON.stringify(w, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))
        )
          assert.equal(got, w, `${name}[${i}]`);
      });
      n += t.entries.length;
    }
    if (what !== 'dlbind offline .so') assert.ok(n > 0, 'some relocations');
    if (file.header.e_type === 1) {
      for (const t of file.relocationTables) assert.is(file.sections[t.appliesTo!]!.name, tableName(file, t).replace(/^\.rela?/, ''), 'applies to');
    }
  });

  test(`${what}: version definitions, needs and each dynamic symbol's version agree with readelf -V --dyn-syms`, () => {
    const out = readelf(['-V'], path);
    const defs = [...out.matchAll(/^\s+[0-9a-fx]+: Rev: (\d+)\s+Flags: (\S+)\s+Index: (\d+)\s+Cnt: (\d+)\s+Name: (.*)$|^\s+0x[0-9a-f]+: Parent \d+: (.*)$/gm)];
    const ours: string[] = [];
    for (const d of file.versionDefinitions) {
      const flags = d.vd_flags === 0 ? 'none' : [d.vd_flags & 1 ? 'BASE' : '', d.vd_flags & 2 ? 'WEAK' : ''].filter(Boolean).join(' | ');
      ours.push(`${d.vd_version} ${flags} ${d.vd_ndx} ${d.vd_cnt} ${d.name}`, ...d.parents.map((p) => `parent ${p}`));
    }
    assert.equal(
      ours,
      defs.map((m) => (m[6] === undefined ? `${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[5]}` : `parent ${m[6]}`)),
    );
    const needs = [
      ...out.matchAll(/^\s+[0-9a-fx]+: Version: (\d+)\s+File: (\S+)\s+Cnt: (\d+)$|^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags: (\S+)\s+Version: (\d+)$/gm),
    ];
    const oursNeeds: string[] = [];
    for (const n of file.versionNeeds) {
      oursNeeds.push(`${n.vn_version} ${n.file} ${n.versions.length}`);
      for (const v of n.versions) oursNeeds.push(`${v.name} ${v.vna_flags === 0 ? 'none' : v.vna_flags === 2 ? 'WEAK' : v.vna_flags} ${v.vna_other}`);
    }
    assert.equal(
      oursNeeds,
      needs.map((m) => (m[4] === undefined ? `${m[1]} ${m[2]} ${m[3]}` : `${m[4]} ${m[5]} ${m[6]}`)),
    );
    const syms = readelf(['--dyn-syms'], path)
      .split('\n')
      .map((l) => /^\s*(\d+): [0-9a-f]+\s+\S+ \S+\s+\S+\s+\S+\s+\S+ ?(.*?)(?: \(\d+\))?$/.exec(l))
      .filter((m) => m !== null);
    assert.is(file.dynamicSymbols.length, syms.length);
    for (const m of syms) {
      const i = Number(m[1]);
      if (file.versionedName(i) !== m[2]) assert.is(file.versionedName(i), m[2], `dynamic symbol ${i}`);
    }
    if (/version script|libc/.test(what)) assert.ok(file.versionDefinitions.length > 1 && file.symbolVersions.length === file.dynamicSymbols.length);
  });

  test(`${what}: notes agree with readelf -n`, () => {
    const expected: string[] = [];
    let source = '';
    for (const line of readelf(['-n'], path).split('\n')) {
      const head = /^Displaying notes found in: (.*)$/.exec(line);
      if (head) source = head[1]!;
      const note = /^\s+(\S+)\s+0x([0-9a-f]+)\t(\S+)(?: \([^)]*\))?\t\s*(.*)$/.exec(line);
      if (note) expected.push(`${source} ${note[1]} ${Number.parseInt(note[2]!, 16)} ${note[3]} ${note[4]}`);
      else if (line.startsWith('\t') && expected.length > 0) expected[expected.length - 1] += `\n${line}`;
    }
    assert.equal(
      file.notes.map((n) => `${n.source} ${n.name} ${n.desc.length} ${n.typeName} ${n.text}`),
      expected,
    );
  });
}

test('libc.so.6: DT_JMPREL and DT_RELR are read, and the build-id is the note', () => {
  const file = readElf(fileBytes(libc));
  const sources = file.relocationTables.map((t) => t.source);
  for (const s of ['DT_RELA', 'DT_JMPREL', 'DT_RELR']) assert.ok(sources.includes(s), s);
  assert.ok(file.relocations.some((r) => r.typeName === 'R_X86_64_JUMP_SLOT' && r.symbolName !== ''));
  assert.match(file.buildId ?? '', /^[0-9a-f]{40}$/);
  assert.ok(readelf(['-n'], libc).includes(file.buildId!));
  assert.equal(file.warnings, []);
});

/** Asks the real dlvsym (or dlsym, for an empty version) for each name@version; prints the address minus the object's load bias. */
const dlvsymProbe = (() => {
  const exe = compileC(
    sampleDir,
    'vprobe',
    `#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "%s\\n", dlerror()); return 1; }
  struct link_map *self; dlinfo(h, RTLD_DI_LINKMAP, &self);
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\\n")] = 0;
    char *at = strchr(line, '@');
    if (at) *at++ = 0;
    dlerror();
    void *p = at && *at ? dlvsym(h, line, at) : dlsym(h, line);
    /* A version's own SHN_ABS symbol has value 0: found, but NULL. */
    if (!p && !dlerror()) { printf("0\\n"); continue; }
    Dl_info info; struct link_map *lm = 0;
    /* Only what this object defines: the handle's scope also reaches its dependencies. */
    if (p && dladdr1(p, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm == self) printf("%lx\\n", (unsigned long)((char *)p - (char *)self->l_addr));
    else printf("-\\n");
  }
  return 0;
}
`,
    ['-ldl'],
    join(sampleDir, 'vprobe'),
  );
  return (path: string, queries: string[]): string[] =>
    mustRun(exe, [path], { input: `${queries.join('\n')}\n` })
      .stdout.trim()
      .split('\n');
})();

test('lookup(name, version) finds what dlsym and dlvsym find', () => {
  const lib = objects.find(([w]) => w === 'gcc .so with a version script')![1];
  for (const path of [libc, lib]) {
    const file = readElf(fileBytes(path));
    const versions = [...new Set(file.symbolVersions.map((v) => v.name).filter((n) => n !== undefined))];
    const names = [...new Set(file.dynamicSymbols.filter((s) => s.name !== '' && s.type !== 6).map((s) => s.name))].slice(0, 400);
    const queries = ['memcpy', 'memcpy@GLIBC_2.2.5', 'memcpy@GLIBC_2.14', 'memcpy@GLIBC_2.3', 'f', 'f@V1', 'f@V2', 'f@V3', 'g@V1', 'g@V2', 'puts@GLIBC_2.2.5'];
    for (const n of names.slice(0, 150)) for (const v of versions.slice(0, 6)) queries.push(`${n}@${v}`);
    for (const n of names) queries.push(n);
    const real = dlvsymProbe(path, queries);
    queries.forEach((q, i) => {
      const [name, version] = q.split('@') as [string, string | undefined];
      const s = file.lookup(name, version);
      const ours = s === undefined ? '-' : s.st_value.toString(16);
      // An IFUNC's dlsym address is what its resolver returns, not st_value.
      if (s?.type === 10) return;
      if (ours !== real[i]) assert.is(ours, real[i], `${path}: ${q}`);
    });
  }
  const c = readElf(fileBytes(libc));
  const expected = readelfDynSyms(libc).filter((e) => e.name === 'memcpy');
  assert.is(c.lookup('memcpy')?.st_value, expected.find((e) => e.version === '@@')!.value);
  assert.is(c.lookup('memcpy', 'GLIBC_2.2.5')?.st_value, expected.find((e) => e.version === '@')!.value);
  assert.is.not(c.lookup('memcpy')?.st_value, c.lookup('memcpy', 'GLIBC_2.2.5')?.st_value);
  const v = readElf(fileBytes(lib));
  assert.is(v.lookup('f')?.st_value, v.lookup('f', 'V2')?.st_value);
  assert.is.not(v.lookup('f', 'V1')?.st_value, v.lookup('f', 'V2')?.st_value);
  assert.is(v.lookup('f', 'V3'), undefined);
});

test.run();
