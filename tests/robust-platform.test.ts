// The platform guard: where live libraries cannot work (not Linux, not glibc, another
// architecture, a libc without a function dlbind binds), importing dlbind still works, the
// offline ELF tools work, and dlcreate throws DlbindError EPLATFORM. Importing dlbind loads
// nothing native: koffi is loaded by the first live library, not before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSharedObject } from '../src/elf/builder.js';
import { ElfFormatError } from '../src/elf/errors.js';
import { readInterpreter } from '../src/elf/reader.js';
import { libcInMaps, libcOfInterpreter } from '../src/loader/platform.js';
import { pool, runNode } from './fixtures/robust-children.js';
import { mustRun } from './helpers/tools.js';

const FIXTURE = 'tests/fixtures/robust-platform.ts';

interface Report {
  afterSetup: { module: boolean; native: boolean };
  afterImport: { module: boolean; native: boolean };
  built: string;
  offline: { module: boolean; native: boolean };
  created: string;
  looked: string;
  end: { module: boolean; native: boolean };
}

async function report(args: string[]): Promise<Report> {
  const r = await runNode([FIXTURE, ...args]);
  assert.is(r.signal, null, args.join(' '));
  assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

const notLoaded = { module: false, native: false };

test('simulated platforms without live libraries: the import and the ELF tools work, dlcreate and dlsym throw EPLATFORM, koffi is never loaded', async () => {
  const cases: [string[], RegExp][] = [
    [['darwin', 'arm64', 'no'], /platform 'darwin' is not Linux/],
    [['win32', 'x64', 'no'], /platform 'win32' is not Linux/],
    [['linux', 'ia32', 'yes'], /architecture 'ia32'/],
    [['linux', 'riscv64', 'yes'], /architecture 'riscv64'/],
    [['linux', 'x64', 'no'], /not glibc/],
  ];
  const reports = await pool(cases, 2, ([args]) => report(['simulate', ...args]));
  reports.forEach((r, i) => {
    const [args, reason] = cases[i]!;
    const what = args.join(' ');
    assert.equal(r.afterImport, notLoaded, `${what}: koffi loaded by the import`);
    assert.is(r.built, 'ok', `${what}: buildSharedObject and readElf`);
    assert.match(r.created, /^EPLATFORM: /, what);
    assert.match(r.created, reason, what);
    assert.match(r.looked, /^EPLATFORM: /, what);
    assert.equal(r.end, notLoaded, `${what}: koffi loaded after all`);
  });
});

test('a libc without memfd_create or dlopen: EPLATFORM naming the missing function, the same at every try', async () => {
  for (const fn of ['memfd_create', 'dlopen']) {
    const r = await report(['lacks', fn]);
    assert.is(r.built, 'ok', fn);
    assert.match(r.created, /^EPLATFORM: the C library cannot be used: .*dlbind_no_such_function/, fn);
    assert.is(r.looked, r.created, `${fn}: a second call says the same`);
  }
});

test('on this machine the import and the offline tools load nothing native; the first live library loads koffi', async () => {
  const r = await report(['real']);
  assert.equal(r.afterSetup, notLoaded);
  assert.equal(r.afterImport, notLoaded, 'koffi loaded by the import');
  assert.equal(r.offline, notLoaded, 'koffi loaded by buildSharedObject or readElf');
  assert.is(r.created, 'ok');
  assert.equal(r.end, { module: true, native: true }, 'the check sees koffi once it is loaded');
});

test('the C library is read from /proc/self/maps: glibc here (as process.report says), musl from its loader, neither otherwise', () => {
  const report = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
  assert.is(typeof report.glibcVersionRuntime, 'string', 'this machine runs glibc');
  assert.is(libcInMaps(readFileSync('/proc/self/maps', 'latin1')), 'glibc');
  const musl = '7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /lib/ld-musl-x86_64.so.1\n';
  assert.is(libcInMaps(musl), 'musl');
  assert.is(libcInMaps('7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /usr/lib/libc.so.6.bak\n[heap]\n'), undefined);
});

test("node's interpreter is read from its first page: glibc's loader here, as readelf says", () => {
  const readelf = /Requesting program interpreter: ([^\]]+)\]/.exec(mustRun('readelf', ['-lW', process.execPath]).stdout)?.[1];
  assert.ok(readelf, 'readelf shows no interpreter for node');
  const interpreter = readInterpreter(readFileSync(process.execPath).subarray(0, 4096));
  assert.is(interpreter, readelf);
  assert.is(libcOfInterpreter(interpreter!), 'glibc');
});

test('readInterpreter: undefined without PT_INTERP or past the head, ElfFormatError for what is not ELF64', () => {
  assert.is(readInterpreter(buildSharedObject({ symbols: [{ name: 'f', section: 'text', bytes: Uint8Array.of(0xc3) }] })), undefined);
  // glibc's libc.so.6 runs as a program too: its PT_INTERP lies far past its first page.
  const libc = readFileSync(/\S+\/libc\.so\.6$/m.exec(readFileSync('/proc/self/maps', 'latin1'))![0]);
  assert.is(readInterpreter(libc.subarray(0, 4096)), undefined);
  assert.match(readInterpreter(libc) ?? '', /\/ld-linux-[^/]+\.so\.\d$/);
  const node = readFileSync(process.execPath).subarray(0, 4096);
  const isFormatError = (e: unknown) => e instanceof ElfFormatError;
  assert.throws(() => readInterpreter(node.subarray(0, 40)), isFormatError);
  assert.throws(() => readInterpreter(new TextEncoder().encode('#!/bin/sh\necho not ELF\n')), isFormatError);
  // The program headers cut off by the head: an error, not a guess.
  assert.throws(() => readInterpreter(node.subarray(0, 80)), isFormatError);
});

test("an interpreter's C library follows its symlinks (gcompat names musl's loader as glibc's), and is undefined for other files", () => {
  const dir = mkdtempSync(join(tmpdir(), 'dlbind-interp-'));
  try {
    const musl = join(dir, 'ld-musl-x86_64.so.1');
    writeFileSync(musl, '');
    const glibcNamed = join(dir, 'ld-linux-x86-64.so.2');
    symlinkSync(musl, glibcNamed);
    assert.is(libcOfInterpreter(glibcNamed), 'musl');
    assert.is(libcOfInterpreter('/bin/sh'), undefined);
    assert.throws(() => libcOfInterpreter(join(dir, 'missing')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
