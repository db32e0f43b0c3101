// The API's input checks: unknown keys, bytes in every form, sizes as number or bigint,
// messages that show the value and its type, libraries that crossed a thread, the
// library-name rule, and C signatures that are checked and typed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ElfBuildError, SHF_EXECINSTR, SHF_WRITE, buildSharedObject, dlalloc, dlcreate, dlfunc, readElf } from '../src/index.js';
import { ANSWER, IDENTITY, failsWith } from './helpers/api.js';
import { run, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-api-checks-');

function buildFails(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ElfBuildError, String(err));
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable('expected an ElfBuildError');
}

test('unknown option keys are EINVAL everywhere, with the nearest known key', () => {
  failsWith(() => dlcreate(undefined, { txet: 10 } as never), 'EINVAL', /dlcreate options: unknown option 'txet' \(did you mean 'text'\?\)/);
  failsWith(() => dlcreate(undefined, { maxSymbol: 10 } as never), 'EINVAL', /did you mean 'maxSymbols'\?/);
  failsWith(() => dlcreate(undefined, { zzzzzz: 1 } as never), 'EINVAL', /unknown option 'zzzzzz' \(expected one of text, rodata, data, maxSymbols/);
  failsWith(
    () => dlcreate(undefined, { backing: { directroy: dir } } as never),
    'EINVAL',
    /option backing: unknown option 'directroy' \(did you mean 'directory'\?\)/,
  );
  failsWith(() => dlcreate(undefined, { perf: { dir } } as never), 'EINVAL', /option perf: unknown option 'dir'/);
  const lib = dlcreate(undefined, { text: 8192n, maxSymbols: 16n, stringTableSize: 4096 });
  try {
    failsWith(() => lib.addFunction('f', ANSWER, { aling: 16 } as never), 'EINVAL', /addFunction options: unknown option 'aling' \(did you mean 'align'\?\)/);
    failsWith(() => lib.addData('d', [1], { writeable: true } as never), 'EINVAL', /addData options: unknown option 'writeable' \(did you mean 'writable'\?\)/);
    const a = lib.alloc(16, SHF_WRITE);
    failsWith(() => lib.bind('d', a, 8, undefined, { replce: true } as never), 'EINVAL', /bind options: unknown option 'replce' \(did you mean 'replace'\?\)/);
    failsWith(() => lib.addData('d', [1], null as never), 'EINVAL', /addData options must be an object, got null/);
    assert.is(lib.symbols().length, 0, 'nothing was bound by the refused calls');
    assert.is(lib.stats().capacity.maxSymbols, 16, 'a bigint capacity is taken');
  } finally {
    lib.delete();
  }
});

test('unknown spec keys are ElfBuildError, with the nearest known key', () => {
  buildFails(
    () => buildSharedObject({ symbols: [{ name: 'a', section: 'rodata', bytes: [1], sise: 4 }] } as never),
    /symbols\[0\]: unknown field 'sise' \(did you mean 'size'\?\)/,
  );
  buildFails(() => buildSharedObject({ symbol: [] } as never), /^unknown field 'symbol' \(did you mean 'symbols'\?\)/);
  buildFails(
    () =>
      buildSharedObject({
        symbols: [
          { name: 'p', section: 'data', size: 8 },
          { name: 't', section: 'rodata', bytes: [1] },
        ],
        pointers: [{ symbol: 'p', target: 't', adend: 1 }],
      } as never),
    /pointers\[0\]: unknown field 'adend' \(did you mean 'addend'\?\)/,
  );
});

test('the linking keys (imports, references, versions) reject unknown keys too: writer, live API and command', () => {
  const code = { name: 'f', section: 'text', bytes: [0xe8, 0, 0, 0, 0, 0xc3] } as const;
  buildFails(
    () => buildSharedObject({ needed: ['libc.so.6'], symbols: [code], imports: [{ name: 'puts', bindig: 'weak' }] } as never),
    /^imports\[0\]: unknown field 'bindig' \(did you mean 'binding'\?\)/,
  );
  buildFails(
    () =>
      buildSharedObject({
        needed: ['libc.so.6'],
        symbols: [code],
        imports: ['puts'],
        references: [{ symbol: 'f', offset: 1, target: 'puts', vai: 'plt' }],
      } as never),
    /^references\[0\]: unknown field 'vai' \(did you mean 'via'\?\)/,
  );
  buildFails(
    () => buildSharedObject({ symbols: [code], versions: ['V1', { name: 'V2', parnet: 'V1' }] } as never),
    /^versions\[1\]: unknown field 'parnet' \(did you mean 'parent'\?\)/,
  );
  // The same spec with the keys spelt right builds: the refusals above are the typos.
  buildSharedObject({
    soname: 'libv.so',
    needed: ['libc.so.6'],
    symbols: [code],
    imports: [{ name: 'puts', binding: 'weak' }],
    references: [{ symbol: 'f', offset: 1, target: 'puts', via: 'plt' }],
    versions: ['V1', { name: 'V2', parent: 'V1' }],
  } as never);
  const lib = dlcreate(undefined, { scale: 0.01 });
  try {
    failsWith(() => lib.import('puts', { verison: 'GLIBC_2.2.5' } as never), 'EINVAL', /import options: unknown option 'verison' \(did you mean 'version'\?\)/);
    failsWith(() => lib.import('puts', null as never), 'EINVAL', /import options must be an object, got null/);
    failsWith(
      () => lib.loadObject(new Uint8Array(64), { unwnid: false } as never),
      'EINVAL',
      /loadObject options: unknown option 'unwnid' \(did you mean 'unwind'\?\)/,
    );
    assert.ok(lib.import('puts', { from: 'libc.so.6' }) > 0n, 'the right key is taken');
  } finally {
    lib.delete();
  }
  // The command: its own checks name imports and references; versions reach the writer's.
  const spec = join(dir, 'versions.json');
  writeFileSync(spec, JSON.stringify({ soname: 'libv.so', symbols: [{ name: 'f', section: 'text', bytes: 'c3' }], versions: [{ name: 'V1', parnet: 'V0' }] }));
  const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'build', spec, '-o', join(dir, 'v.so')]);
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /versions\[0\]: unknown field 'parnet' \(did you mean 'parent'\?\)/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  writeFileSync(spec, JSON.stringify({ needed: ['libc.so.6'], symbols: [{ name: 'f', section: 'text', bytes: 'c3' }], imports: [{ nmae: 'puts' }] }));
  const i = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'build', spec, '-o', join(dir, 'v.so')]);
  assert.is(i.status, 1, i.stdout + i.stderr);
  assert.match(i.stderr, /imports\[0\]: unknown field 'nmae' \(did you mean 'name'\?\)/);
});

test('bytes: number[], Uint8Array and any other ArrayBuffer view, in the API and in specs', () => {
  const so = readElf(
    buildSharedObject({
      symbols: [
        { name: 'words', section: 'rodata', bytes: Uint16Array.of(0x0201, 0x0403) },
        { name: 'view', section: 'rodata', bytes: new DataView(Uint8Array.of(9, 8, 7).buffer), size: 4n },
      ],
    }),
  );
  assert.is(so.lookup('words')!.st_size, 4n);
  assert.is(so.lookup('view')!.st_size, 4n, 'a bigint size in a spec');
  buildFails(
    () => buildSharedObject({ symbols: [{ name: 'a', section: 'rodata', bytes: [1, 300] }] }),
    /symbols\[0\]\.bytes: byte 1 is 300 \(number\), not 0\.\.255/,
  );
  buildFails(
    () => buildSharedObject({ symbols: [{ name: 'a', section: 'rodata', size: -1n }] }),
    /symbols\[0\]\.size: must be a non-negative integer, got -1n \(bigint\)/,
  );

  const lib = dlcreate();
  try {
    const f = lib.func<() => number>(lib.addFunction('answer', ANSWER), 'int answer(void)');
    assert.is(f(), 42, 'code as number[]');
    const d = lib.addData('d', Uint32Array.of(0x04030201), { writable: true });
    lib.write(d, [5, 6]);
    lib.write(d + 2n, new DataView(Uint8Array.of(7).buffer));
    assert.equal([...new Uint8Array(lib.save(join(dir, 'libbytes.so')) > 0 ? readData(join(dir, 'libbytes.so'), 'd') : [])], [5, 6, 7, 4]);
    failsWith(() => lib.write(d, [1, 256]), 'EINVAL', /bytes byte 1 is 256 \(number\), not 0\.\.255/);
    failsWith(() => lib.write(d, 'abc' as never), 'EINVAL', /got "abc" \(string\)/);
    failsWith(() => lib.addData('e', { length: 2 } as never), 'EINVAL', /got an object/);
  } finally {
    lib.delete();
  }
});

function readData(path: string, name: string): Uint8Array {
  const bytes = readFileSync(path);
  const so = readElf(bytes);
  const s = so.lookup(name)!;
  const sec = so.sections.find((x) => x.sh_addr <= s.st_value && s.st_value < x.sh_addr + x.sh_size && x.name !== '')!;
  const at = Number(sec.sh_offset + (s.st_value - sec.sh_addr));
  return bytes.subarray(at, at + Number(s.st_size));
}

test('messages show the value and its type', () => {
  const lib = dlcreate();
  try {
    failsWith(() => lib.alloc(-8n, SHF_WRITE), 'EINVAL', /size must be a positive integer \(number or bigint\), got -8n \(bigint\)/);
    failsWith(() => lib.alloc('8' as never, SHF_WRITE), 'EINVAL', /got "8" \(string\)/);
    failsWith(() => lib.alloc(8, SHF_EXECINSTR, 3), 'EALIGN', /got 3/);
    failsWith(
      () => dlcreate(undefined, { maxSymbols: -2n }),
      'EINVAL',
      /option maxSymbols must be a positive integer .*\(number or bigint\), got -2n \(bigint\)/,
    );
    failsWith(() => dlcreate(undefined, { maxSymbols: 2n ** 40n }), 'ETOOBIG', /maxSymbols 1099511627776 is more than one library can map/);
    failsWith(() => lib.bind(42 as never, 0n, 1), 'ENAME', /got 42 \(number\)/);
    failsWith(() => lib.sym(null as never), 'ENAME', /got null/);
  } finally {
    lib.delete();
  }
});

test('a library that crossed to another thread is recognised: ETHREAD, libraries belong to their thread', async () => {
  const lib = dlcreate();
  try {
    failsWith(() => dlalloc(structuredClone(lib), 16, SHF_WRITE), 'ETHREAD', /a library belongs to the thread that created it/);
    assert.equal(Object.keys(structuredClone(lib)).sort(), ['debugMode', 'kind', 'name', 'thread'], 'a clone carries the brand only');
    failsWith(() => dlalloc({} as never, 16, SHF_WRITE), 'EINVAL', /expected a library returned by dlcreate\(\), got an object/);
    const tsx = import.meta.resolve('tsx/esm/api');
    const index = new URL('../src/index.ts', import.meta.url).href;
    const src = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(index)}); }).then((m) => {
      const { workerData, parentPort } = require('node:worker_threads');
      try { m.dlalloc(workerData, 16, m.SHF_WRITE); parentPort.postMessage('no error'); }
      catch (err) { parentPort.postMessage(err.message); }
    });`;
    const w = new Worker(src, { eval: true, workerData: lib });
    const message = await new Promise<string>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.match(message, /^ETHREAD: library libdlbind-\S+ arrived here as a copy from thread 0: a library belongs to the thread that created it/);
  } finally {
    lib.delete();
  }
});

test('the library-name rule holds for dlcreate and for the soname save writes', () => {
  failsWith(() => dlcreate('lib sp ace.so'), 'EINVAL', /library name must be 1-200 characters of \[A-Za-z0-9\._\+-\], got "lib sp ace\.so" \(string\)/);
  const lib = dlcreate('libnamed.so');
  try {
    lib.addData('x', [1]);
    failsWith(() => lib.save(join(dir, 'lib saved.so')), 'EINVAL', /the saved file's name \(its soname\) must be 1-200 characters/);
    assert.ok(lib.save(join(dir, 'libsaved.so')) > 0);
    assert.is(readElf(readFileSync(join(dir, 'libsaved.so'))).soname, 'libsaved.so');
  } finally {
    lib.delete();
  }
});

test('signatures: checked, named in errors as the user wrote them, typed results (64-bit ints always bigint, pointers bigint)', () => {
  const lib = dlcreate();
  try {
    const answer = lib.addFunction('answer', ANSWER);
    failsWith(() => dlfunc(answer, 42 as never), 'EINVAL', /a signature must be a C prototype string .*, got 42 \(number\)/);
    const bad = failsWith(() => dlfunc(answer, 'int (intt)'), 'EINVAL', /bad signature 'int \(intt\)': .*'intt'/);
    assert.not.match(bad.message, /dlbind_fn/);
    const unnamed = failsWith(() => dlfunc(answer, 'int answer(int'), 'EINVAL', /bad signature 'int answer\(int'/);
    assert.not.match(unnamed.message, /dlbind_fn/);
    // The same name in two signatures, and no name at all, are fine: prototypes are anonymous.
    const r: number = dlfunc<() => number>(answer, 'int answer(void)')();
    assert.is(r, 42);
    assert.is(dlfunc<() => number>(answer, 'unsigned int answer()')(), 42);
    assert.is(dlfunc<() => number>(answer, 'int ()')(), 42);
    const id = lib.addFunction('id', IDENTITY);
    const id64 = lib.func<(x: number | bigint) => bigint>(id, 'int64_t id(int64_t x)');
    assert.is(id64(5), 5n, 'a small int64_t result is a bigint too');
    assert.is(id64(2n ** 60n), 2n ** 60n);
    assert.is(lib.func<(x: number) => bigint>(id, 'size_t id(size_t)')(7), 7n);
    const idp = lib.func<(p: bigint | null) => bigint>(id, 'void *id(void *p)');
    assert.is(idp(0x1234n), 0x1234n);
    assert.is(idp(null), 0n, 'NULL is 0n');
    assert.is(lib.func<(x: number) => number>(id, 'int id(int)')(-3), -3);
  } finally {
    lib.delete();
  }
});

test.run();
