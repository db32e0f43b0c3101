// arch: aarch64
// Live JIT libraries, checked through libc's own dlsym/dladdr and real calls.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DlbindError,
  SHF_EXECINSTR,
  SHF_WRITE,
  STT_FUNC,
  STT_OBJECT,
  dladdr,
  dlalias,
  dlalloc,
  dlbind,
  dlcreate,
  dldelete,
  dlfree,
  dlfunc,
  dlsym,
  dlunbind,
  dlwrite,
} from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { openFdCount, readMappings } from '../src/loader/procmaps.js';
import { ADD, ANSWER, MUL, PAGE, returns } from './helpers/code.js';
import { assertNoWX } from './helpers/wx.js';

function code(err: unknown): string {
  assert.instance(err, DlbindError);
  return (err as DlbindError).code;
}

function throwsCode(fn: () => unknown, expected: string): void {
  try {
    fn();
  } catch (err) {
    assert.is(code(err), expected, String(err));
    return;
  }
  assert.unreachable(`expected DlbindError ${expected}`);
}

const peek32 = (addr: bigint): number => new DataView(getLibc().view(addr, 4)).getInt32(0, true);

test.after.each(() => assertNoWX('after the test'));

test('a JIT-ed add is found by libc dlsym, called through koffi, and named by dladdr', () => {
  const lib = dlcreate();
  try {
    const addr = dlalloc(lib, ADD.length, SHF_EXECINSTR);
    dlwrite(lib, addr, ADD);
    dlbind(lib, 'add', addr, ADD.length, STT_FUNC);
    const found = dlsym(lib, 'add');
    assert.is(found, addr);
    const add = dlfunc(found!, 'int add(int a, int b)');
    assert.is(add(2, 3), 5);
    assert.is(add(-7, 100), 93);
    const info = dladdr(addr + 2n);
    assert.ok(info);
    assert.is(info!.sname, 'add');
    assert.is(info!.saddr, addr);
    assert.is(info!.fname, lib.path);
    assert.is(info!.fbase, lib.loadBase);
    // The text mapping that holds the function is executable and not writable.
    const m = readMappings().find((x) => x.start <= addr && addr < x.end)!;
    assert.is(m.perms.slice(0, 3), 'r-x');
  } finally {
    dldelete(lib);
  }
});

test('100,000 data symbols bound one after another are all found by libc dlsym at the right address', () => {
  const n = 100_000;
  const lib = dlcreate(undefined, { maxSymbols: n, stringTableSize: n * 16, data: n * 8 });
  const other = dlcreate();
  try {
    const block = dlalloc(lib, n * 8, SHF_WRITE);
    for (let i = 0; i < n; i++) dlbind(lib, `var_${i}`, block + BigInt(i * 8), 8, STT_OBJECT);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (dlsym(lib, `var_${i}`) !== block + BigInt(i * 8)) wrong++;
    assert.is(wrong, 0);
    assert.is(lib.stats().symbols, n);
    // Another library's handle does not see them; an unknown name is not found.
    assert.is(dlsym(other, 'var_0'), null);
    assert.is(dlsym(other, `var_${n - 1}`), null);
    assert.is(dlsym(lib, `var_${n}`), null);
    // dladdr names one from the middle, from an address inside it.
    assert.is(dladdr(block + BigInt(54_321 * 8 + 3))?.sname, 'var_54321');
  } finally {
    dldelete(lib);
    dldelete(other);
  }
});

test('unbind: dlsym stops finding the name, dladdr stops naming it, others stay', () => {
  const lib = dlcreate();
  try {
    const a = lib.addFunction('answer', ANSWER);
    const b = lib.addFunction('add', ADD);
    assert.is(dlsym(lib, 'answer'), a);
    assert.ok(dlunbind(lib, 'answer'));
    assert.is(dlsym(lib, 'answer'), null);
    const info = dladdr(a);
    assert.ok(info, 'the address is still inside the library');
    assert.is.not(info!.sname, 'answer');
    assert.is(dlsym(lib, 'add'), b);
    assert.not.ok(dlunbind(lib, 'answer'), 'a second unbind reports nothing was bound');
    // The name can be bound again, and the new binding is what libc finds.
    lib.bind('answer', b, ADD.length);
    assert.is(dlsym(lib, 'answer'), b);
  } finally {
    lib.delete();
  }
});

test('replace repoints a name in one step; without replace a duplicate bind is EEXIST', () => {
  const lib = dlcreate();
  try {
    const add = lib.addFunction('op', ADD);
    const mul = dlalloc(lib, MUL.length, SHF_EXECINSTR);
    dlwrite(lib, mul, MUL);
    throwsCode(() => dlbind(lib, 'op', mul, MUL.length), 'EEXIST');
    assert.is(dlsym(lib, 'op'), add);
    dlbind(lib, 'op', mul, MUL.length, STT_FUNC, { replace: true });
    assert.is(dlsym(lib, 'op'), mul);
    assert.is(dlfunc(dlsym(lib, 'op')!, 'int op(int, int)')(6, 7), 42);
    assert.is(dladdr(mul)?.sname, 'op');
    assert.is.not(dladdr(add)?.sname, 'op');
    assert.is(lib.symbols().length, 1);
  } finally {
    lib.delete();
  }
});

test('free gives memory back: freed blocks are reused and neighbours coalesce', () => {
  // Capacities are whole segment pages: 4 KiB on x86_64, 64 KiB on aarch64.
  const lib = dlcreate(undefined, { data: PAGE });
  const q = PAGE / 4;
  try {
    const blocks = [0, 1, 2, 3].map(() => dlalloc(lib, q, SHF_WRITE));
    throwsCode(() => dlalloc(lib, 16, SHF_WRITE), 'ENOSPACE');
    dlbind(lib, 'second', blocks[1]!, q);
    assert.is(dlsym(lib, 'second'), blocks[1]);
    dlfree(lib, blocks[1]!);
    // Symbols inside a freed block are unbound with it.
    assert.is(dlsym(lib, 'second'), null);
    const again = dlalloc(lib, q, SHF_WRITE);
    assert.is(again, blocks[1], 'the freed block is reused');
    dlfree(lib, again);
    dlfree(lib, blocks[2]!);
    // Two quarters coalesced: a half-page block fits where the two were.
    const big = dlalloc(lib, 2 * q, SHF_WRITE);
    assert.is(big, blocks[1]);
    dlwrite(lib, big, new Uint8Array(2 * q).fill(7));
    dlbind(lib, 'big', big, 2 * q);
    assert.is(dlsym(lib, 'big'), big);
    assert.is(peek32(big + BigInt(2 * q - 4)), 0x07070707);
  } finally {
    lib.delete();
  }
});

test('writes through the alias are seen at the loaded address, and data written there is seen by dlwrite readers', () => {
  const lib = dlcreate();
  try {
    const addr = lib.addData('counter', Uint8Array.of(1, 0, 0, 0), { writable: true });
    assert.is(peek32(addr), 1);
    // The program stores through the loaded address ...
    new DataView(getLibc().view(addr, 4)).setInt32(0, 1234, true);
    // ... and the writable alias shows the same page.
    assert.is(peek32(dlalias(lib, addr)), 1234);
    dlwrite(lib, addr, Uint8Array.of(0x39, 0x30, 0, 0));
    assert.is(peek32(addr), 12345);
    const ro = lib.addData('constant', Uint8Array.of(9, 0, 0, 0));
    assert.is(peek32(ro), 9);
    const m = readMappings().find((x) => x.start <= ro && ro < x.end)!;
    assert.is(m.perms.slice(0, 2), 'r-', 'rodata is read-only at its loaded address');
  } finally {
    lib.delete();
  }
});

test('delete unloads the library; every later use throws EDELETED and nothing crashes', () => {
  const lib = dlcreate();
  const addr = lib.addFunction('gone_soon', ANSWER);
  assert.is(dlsym(lib, 'gone_soon'), addr);
  assert.ok(dldelete(lib), 'ld.so unloaded it');
  assert.ok(lib.deleted);
  assert.is(dladdr(addr), null, 'no object holds the address any more');
  assert.not.ok(
    readMappings().some((m) => m.path.includes(lib.name)),
    'no mapping of the library is left',
  );
  throwsCode(() => dlalloc(lib, 16, SHF_EXECINSTR), 'EDELETED');
  throwsCode(() => dlwrite(lib, addr, ANSWER), 'EDELETED');
  throwsCode(() => dlbind(lib, 'x', addr, 1), 'EDELETED');
  throwsCode(() => dlunbind(lib, 'gone_soon'), 'EDELETED');
  throwsCode(() => dlfree(lib, addr), 'EDELETED');
  throwsCode(() => dlalias(lib, addr), 'EDELETED');
  throwsCode(() => dlsym(lib, 'gone_soon'), 'EDELETED');
  throwsCode(() => lib.handle, 'EDELETED');
  throwsCode(() => lib.symbols(), 'EDELETED');
  throwsCode(() => dldelete(lib), 'EDELETED');
});

test('RTLD_GLOBAL: found through RTLD_DEFAULT; glibc then pins the object, and a later library is still its own', () => {
  const lib = dlcreate(undefined, { global: true });
  const addr = lib.addFunction('global_name_abc', ANSWER);
  assert.is(dlsym(null, 'global_name_abc'), addr);
  // glibc records that the caller (koffi) depends on an object a dlsym(RTLD_DEFAULT) found, so it stays.
  assert.not.ok(dldelete(lib), 'dldelete reports that ld.so kept the object');
  assert.is(dlsym(null, 'global_name_abc'), null, 'its symbols are gone all the same');
  // A new library may get the same fd number; it must not be confused with the pinned object.
  for (let i = 0; i < 3; i++) {
    const next = dlcreate();
    const f = next.addFunction('global_name_abc', ADD);
    assert.is(dlsym(next, 'global_name_abc'), f);
    assert.is(dladdr(f)?.fname, next.path);
    dldelete(next);
  }
});

test('code written after a debugger-style write copied its page still runs (the page is mapped afresh)', async () => {
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const lib = dlcreate();
  try {
    const first = lib.addFunction('first', ANSWER);
    // A write through /proc/self/mem is what ptrace does for a software breakpoint:
    // the kernel gives the process a private copy of that r-x page.
    const mem = openSync('/proc/self/mem', 'r+');
    try {
      const seven = returns(7);
      writeSync(mem, seven, 0, seven.length, Number(first));
    } finally {
      closeSync(mem);
    }
    assert.is(dlfunc(first, 'int f()')(), 7, 'the private copy is what runs now');
    const page = readMappings().find((m) => m.start <= first && first < m.end)!;
    assert.is(page.perms, 'r-xp');
    // New code in the same page is visible and runs, and the page is as the file says again.
    const second = lib.addFunction('second', ADD);
    assert.is((second & ~0xfffn) === (first & ~0xfffn), true, 'same page');
    assert.is(dlfunc(second, 'int add(int, int)')(20, 22), 42);
    assert.is(dlfunc(first, 'int f()')(), 42);
  } finally {
    lib.delete();
  }
});

test("flush(): 'auto' announces nothing without a debugger, 'always' re-announces through the link map, 'off' never", () => {
  const modes = { auto: false, always: true, off: false } as const;
  for (const [mode, announces] of Object.entries(modes)) {
    const lib = dlcreate(undefined, { debug: mode as 'auto' });
    try {
      lib.addFunction('announced', ANSWER);
      assert.is(lib.flush(), announces, mode);
      assert.is(lib.flush(), false, `${mode}: nothing left to announce`);
      // The library is still whole after its link_map left the list and came back.
      assert.is(dlfunc(dlsym(lib, 'announced')!, 'int f()')(), 42);
      assert.is(dladdr(lib.lookup('announced')!.address)?.sname, 'announced');
    } finally {
      lib.delete();
    }
  }
});

test('libraries of the same shape share one plan but each carries its own soname', async () => {
  const { readElf } = await import('../src/index.js');
  const libs = ['libsame1.so', 'libsame2.so', 'libother-name.so'].map((name) => dlcreate(name));
  try {
    for (const lib of libs) {
      const f = readElf(readFileSync(lib.path));
      assert.is(f.soname, lib.name);
      assert.is(dladdr(lib.addFunction('probe', ANSWER))?.sname, 'probe');
    }
  } finally {
    for (const lib of libs) lib.delete();
  }
});

test('RTLD_LOCAL (the default) keeps names out of RTLD_DEFAULT', () => {
  const lib = dlcreate();
  try {
    lib.addFunction('only_local_name_xyz', ANSWER);
    assert.ok(dlsym(lib, 'only_local_name_xyz'));
    assert.is(dlsym(null, 'only_local_name_xyz'), null);
  } finally {
    lib.delete();
  }
});

test('misuse throws DlbindError with a stable code', () => {
  const lib = dlcreate(undefined, { maxSymbols: 2, stringTableSize: 64 });
  const other = dlcreate();
  try {
    const t = dlalloc(lib, 8, SHF_EXECINSTR);
    throwsCode(() => dlalloc(lib, 8, SHF_WRITE | SHF_EXECINSTR), 'EWX');
    throwsCode(() => dlalloc(lib, 0, SHF_WRITE), 'EINVAL');
    throwsCode(() => dlalloc(lib, 8, SHF_WRITE, 3), 'EALIGN');
    throwsCode(() => dlbind(lib, '', t, 1), 'ENAME');
    throwsCode(() => dlbind(lib, 'a\0b', t, 1), 'ENAME');
    throwsCode(() => dlbind(lib, Uint8Array.of(0xff, 0xfe), t, 1), 'ENAME');
    throwsCode(() => dlbind(lib, 'toolong', t, 9), 'ERANGE');
    throwsCode(() => dlwrite(lib, t + 4n, new Uint8Array(8)), 'ERANGE');
    const o = dlalloc(other, 8, SHF_EXECINSTR);
    throwsCode(() => dlbind(lib, 'foreign', o, 1), 'EFOREIGN');
    throwsCode(() => dlfree(lib, o), 'EFOREIGN');
    throwsCode(() => dlfree(lib, t + 1n), 'EFOREIGN');
    dlbind(lib, 'one', t, 1);
    dlbind(lib, 'two', t + 1n, 1);
    throwsCode(() => dlbind(lib, 'three', t + 2n, 1), 'ESYMFULL');
    dlfree(lib, t);
    throwsCode(() => dlfree(lib, t), 'EFREED');
    throwsCode(() => dlwrite(lib, t, Uint8Array.of(1)), 'EFREED');
    const u = dlalloc(lib, 8, SHF_EXECINSTR);
    throwsCode(() => dlbind(lib, 'x'.repeat(100), u, 1), 'ESTRFULL');
    // Names given as UTF-8 bytes bind and are found like strings.
    dlbind(lib, new TextEncoder().encode('héllo'), u, 1);
    assert.is(dlsym(lib, 'héllo'), u);
  } finally {
    lib.delete();
    other.delete();
  }
});

test('200 create/delete cycles leave file descriptors and mappings where they were', () => {
  // Warm up lazily created state (libc bindings, koffi's own mappings).
  dldelete(dlcreate());
  // V8 maps and unmaps anonymous memory as it likes; every mapping dlbind makes is of a file.
  const fileMappings = () => readMappings().filter((m) => m.path !== '' && !m.path.startsWith('[')).length;
  const fds = openFdCount();
  const maps = fileMappings();
  for (let i = 0; i < 200; i++) {
    const lib = dlcreate();
    lib.addFunction(`f${i}`, ANSWER);
    lib.addData(`d${i}`, Uint8Array.of(1, 2, 3), { writable: true });
    dldelete(lib);
  }
  assert.is(openFdCount(), fds);
  assert.is(fileMappings(), maps);
});

test('a file-backed library lives in the chosen directory and is removed on delete', async () => {
  const { mkdtempSync, statSync, existsSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'dlbind-backing-'));
  try {
    const lib = dlcreate('libfilebacked.so', { backing: { directory: dir } });
    assert.ok(lib.path.startsWith(dir));
    assert.is(statSync(lib.path).mode & 0o777, 0o600);
    const f = lib.addFunction('answer', ANSWER);
    assert.is(dlfunc(dlsym(lib, 'answer')!, 'int answer()')(), 42);
    assert.is(dladdr(f)?.fname, lib.path);
    // What was written is in the file itself.
    const bytes = readFileSync(lib.path);
    const off = Number(f - lib.loadBase);
    assert.equal([...bytes.subarray(off, off + ANSWER.length)], [...ANSWER]);
    const path = lib.path;
    lib.delete();
    assert.not.ok(existsSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
