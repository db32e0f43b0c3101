// arch: aarch64
// Batch binds: bindMany (columns of names, addresses and sizes), addFunctions and
// addDataSymbols (one block, a symbol per name). Every symbol is found by libc's
// dlsym and named by dladdr; every bad entry is a DlbindError naming it, and a
// failing batch leaves nothing of itself bound, also when it fails after some of
// its entries were stored (a duplicate inside the batch, a full string table). Addresses
// beyond 64 bits are refused by the short bind path as by the checked one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, SHF_WRITE, STT_FUNC, STT_NOTYPE, type JitLibrary, dladdr, dlbindmany, dlcreate, dlfunc, dlsym } from '../src/index.js';
import { ANSWER, SEVEN, failsWith } from './helpers/api.js';

/** Nothing of `names` is bound: not in the library's books, not found by libc. */
function noneBound(lib: JitLibrary, names: readonly string[]): void {
  for (const n of names) {
    assert.is(lib.lookup(n), undefined, n);
    assert.is(dlsym(lib, n), null, n);
  }
}

test('bindMany binds 10,000 data symbols from columns; libc dlsym finds each at its address and dladdr names it', () => {
  const lib = dlcreate();
  try {
    const n = 10_000;
    const base = lib.alloc(8 * n, SHF_WRITE);
    const names = Array.from({ length: n }, (_, i) => `batch_${i}`);
    const addresses = BigUint64Array.from({ length: n }, (_, i) => base + BigInt(8 * i));
    lib.bindMany(names, addresses, new Uint32Array(n).fill(8));
    assert.is(lib.stats().symbols, n);
    for (let i = 0; i < n; i++) assert.is(dlsym(lib, names[i]!), addresses[i]!, names[i]);
    for (const i of [0, 1, n >> 1, n - 1]) {
      const info = dladdr(addresses[i]! + 7n);
      assert.is(info?.sname, names[i]);
      assert.is(info?.saddr, addresses[i]);
    }
    assert.is(lib.lookup('batch_17')?.section, 'data');
    assert.is(lib.lookup('batch_17')?.size, 8);
    // A later single bind and a second batch coexist with the first.
    const more = lib.alloc(32, SHF_WRITE);
    lib.bind('after', more, 8);
    lib.bindMany(['ü_non_ascii', new TextEncoder().encode('from_bytes'), 'last'], [more + 8n, more + 16n, more + 24n], [8, 8n, 8]);
    assert.is(dlsym(lib, 'ü_non_ascii'), more + 8n);
    assert.is(dlsym(lib, 'from_bytes'), more + 16n);
    assert.is(dlsym(lib, 'last'), more + 24n);
    // An empty batch binds nothing.
    lib.bindMany([], [], []);
    assert.is(lib.stats().symbols, n + 4);
  } finally {
    lib.delete();
  }
});

test('bindMany: a type for the whole batch, default by section; text symbols are functions and callable', () => {
  const lib = dlcreate();
  try {
    const code = lib.alloc(ANSWER.length + SEVEN.length, SHF_EXECINSTR);
    lib.write(code, [...ANSWER, ...SEVEN]);
    dlbindmany(lib, ['answer', 'seven'], [code, code + BigInt(ANSWER.length)], [ANSWER.length, SEVEN.length]);
    assert.is(dlfunc<() => number>(dlsym(lib, 'answer')!, 'int answer(void)')(), 42);
    assert.is(dlfunc<() => number>(dlsym(lib, 'seven')!, 'int seven(void)')(), 7);
    const data = lib.alloc(16, SHF_WRITE);
    lib.bindMany(['untyped'], [data], [8], { type: STT_NOTYPE });
    lib.bindMany(['typed_func'], [data + 8n], [8], { type: STT_FUNC });
    assert.is(dlsym(lib, 'untyped'), data);
    assert.is(dlsym(lib, 'typed_func'), data + 8n);
  } finally {
    lib.delete();
  }
});

test('bindMany: every bad entry is a DlbindError naming it, and nothing of the batch stays bound', () => {
  const lib = dlcreate();
  const other = dlcreate();
  try {
    const base = lib.alloc(64, SHF_WRITE);
    const freed = lib.alloc(16, SHF_WRITE);
    lib.free(freed);
    const foreign = other.alloc(16, SHF_WRITE);
    lib.bind('taken', base + 56n, 8);
    const names = ['ok_0', 'ok_1', 'ok_2'];
    const addrs = [base, base + 8n, base + 16n];
    const sizes = [8, 8, 8];
    const cases: [string, () => void, string, RegExp][] = [
      ['names not an array', () => lib.bindMany('ok_0' as never, addrs, sizes), 'EINVAL', /bindMany: names must be an array, got/],
      ['addresses not an array', () => lib.bindMany(names, 7n as never, sizes), 'EINVAL', /bindMany: addresses must be an array or a typed array/],
      ['sizes not an array', () => lib.bindMany(names, addrs, 8 as never), 'EINVAL', /bindMany: sizes must be an array/],
      ['addresses too short', () => lib.bindMany(names, addrs.slice(0, 2), sizes), 'EINVAL', /addresses has 2 entries, names has 3/],
      ['sizes too long', () => lib.bindMany(names, addrs, [8, 8, 8, 8]), 'EINVAL', /sizes has 4 entries, names has 3/],
      ['an empty name', () => lib.bindMany(['ok_0', '', 'ok_2'], addrs, sizes), 'ENAME', /names\[1\]: symbol name is empty/],
      ['a name with NUL', () => lib.bindMany(['ok_0', 'ok_1', 'a\0b'], addrs, sizes), 'ENAME', /names\[2\]: symbol name contains NUL/],
      ['a lone surrogate', () => lib.bindMany(['ok_0', '\ud800', 'ok_2'], addrs, sizes), 'ENAME', /names\[1\]: symbol name is not valid Unicode/],
      ['bad UTF-8 bytes', () => lib.bindMany(['ok_0', Uint8Array.of(0xff), 'ok_2'], addrs, sizes), 'ENAME', /names\[1\]: .*not valid UTF-8/],
      ['a name of another type', () => lib.bindMany(['ok_0', 42 as never, 'ok_2'], addrs, sizes), 'ENAME', /names\[1\]: symbol name must be a string/],
      ['a zero size', () => lib.bindMany(names, addrs, [8, 0, 8]), 'EINVAL', /sizes\[1\]: size must be a positive integer/],
      ['a fractional size', () => lib.bindMany(names, addrs, [8, 8, 1.5]), 'EINVAL', /sizes\[2\]: size must be a positive integer .*got 1\.5/],
      ['a size as a string', () => lib.bindMany(names, addrs, ['8', 8, 8] as never), 'EINVAL', /sizes\[0\]: size must be/],
      [
        'a size past the block',
        () => lib.bindMany(names, [base, base + 8n, base + 60n], sizes),
        'ERANGE',
        /addresses\[2\]: 8 bytes at 0x[0-9a-f]+ run past the end/,
      ],
      ['an address as a string', () => lib.bindMany(names, [base, '0x1000' as never, base], sizes), 'EINVAL', /addresses\[1\]: address must be a bigint/],
      ['a null address', () => lib.bindMany(names, [base, 0n, base + 16n], sizes), 'EFOREIGN', /addresses\[1\]: 0x0 is not in library/],
      ["another library's block", () => lib.bindMany(names, [base, base + 8n, foreign], sizes), 'EFOREIGN', /addresses\[2\]:/],
      ['a freed block', () => lib.bindMany(names, [freed, base + 8n, base + 16n], sizes), 'EFREED', /addresses\[0\]: .*freed/],
      [
        'an unknown option',
        () => lib.bindMany(names, addrs, sizes, { typ: 1 } as never),
        'EINVAL',
        /bindMany options: unknown option 'typ' \(did you mean 'type'\?\)/,
      ],
      ['a bad type', () => lib.bindMany(names, addrs, sizes, { type: 5 }), 'EINVAL', /bindMany: type must be STT_FUNC, STT_OBJECT or STT_NOTYPE, got 5/],
      // These two fail while storing, after entries before them were stored: those are unbound again.
      ['a name twice in the batch', () => lib.bindMany(['ok_0', 'ok_1', 'ok_0'], addrs, sizes), 'EEXIST', /names\[2\]: symbol 'ok_0' is already bound/],
      ['a name bound already', () => lib.bindMany(['ok_0', 'ok_1', 'taken'], addrs, sizes), 'EEXIST', /names\[2\]: symbol 'taken' is already bound/],
    ];
    for (const [what, fn, code, message] of cases) {
      failsWith(fn, code, message);
      noneBound(lib, names);
      assert.is(lib.stats().symbols, 1, what);
      assert.is(dlsym(lib, 'taken'), base + 56n, what);
    }
    // The same batch, right, then binds.
    lib.bindMany(names, addrs, sizes);
    assert.is(dlsym(lib, 'ok_2'), base + 16n);
    lib.delete();
    failsWith(() => lib.bindMany(['x'], [base], [8]), 'EDELETED');
  } finally {
    if (!lib.deleted) lib.delete();
    other.delete();
  }
});

test('bindMany: a batch larger than the symbol table, or than the string table, leaves nothing bound and the library usable', () => {
  const lib = dlcreate(undefined, { maxSymbols: 64, stringTableSize: 4096 });
  try {
    const base = lib.alloc(8 * 200, SHF_WRITE);
    const at = (i: number) => base + BigInt(8 * i);
    const many = Array.from({ length: 65 }, (_, i) => `s${i}`);
    failsWith(
      () =>
        lib.bindMany(
          many,
          many.map((_, i) => at(i)),
          many.map(() => 8),
        ),
      'ESYMFULL',
      /no room for 65 more symbols: 0 of maxSymbols 64 bound/,
    );
    noneBound(lib, many);
    // Long names: more than the string table holds, refused before anything is stored.
    const long = Array.from({ length: 40 }, (_, i) => `${'x'.repeat(200)}_${i}`);
    failsWith(
      () =>
        lib.bindMany(
          long,
          long.map((_, i) => at(i)),
          long.map(() => 8),
        ),
      'ESTRFULL',
      /no room for the batch's names: \d+ bytes or more needed/,
    );
    noneBound(lib, long);
    // Names of three bytes a character pass that bound and fill the table part-way through: those stored are unbound again.
    const wide = Array.from({ length: 10 }, (_, i) => `${'€'.repeat(200)}_${i}`);
    const e = failsWith(
      () =>
        lib.bindMany(
          wide,
          wide.map((_, i) => at(i)),
          wide.map(() => 8),
        ),
      'ESTRFULL',
      /names\[\d+\]: the string table is full/,
    );
    assert.ok(Number(/names\[(\d+)\]/.exec(e.message)![1]) > 0, 'the failure came after some entries were stored');
    noneBound(lib, wide);
    assert.is(lib.stats().symbols, 0);
    lib.bindMany(
      many.slice(0, 64),
      many.slice(0, 64).map((_, i) => at(i)),
      many.slice(0, 64).map(() => 8),
    );
    assert.is(dlsym(lib, 's63'), at(63));
    assert.is(lib.stats().symbols, 64);
  } finally {
    lib.delete();
  }
});

test('addFunctions: one block of code, a function per name at its offset, each callable through libc dlsym; free unbinds them all', () => {
  const lib = dlcreate();
  try {
    const code = [...ANSWER, ...SEVEN, ...ANSWER];
    const offsets = [0, ANSWER.length, ANSWER.length + SEVEN.length];
    const block = lib.addFunctions(['f_answer', 'f_seven', 'f_again'], code, offsets);
    assert.is(dlsym(lib, 'f_seven'), block + BigInt(ANSWER.length));
    assert.is(dlfunc<() => number>(dlsym(lib, 'f_answer')!, 'int f(void)')(), 42);
    assert.is(dlfunc<() => number>(dlsym(lib, 'f_seven')!, 'int f(void)')(), 7);
    assert.is(dlfunc<() => number>(dlsym(lib, 'f_again')!, 'int f(void)')(), 42);
    // Without sizes each runs to the next offset, the last to the end of the code.
    assert.equal(
      ['f_answer', 'f_seven', 'f_again'].map((n) => lib.lookup(n)?.size),
      [ANSWER.length, SEVEN.length, ANSWER.length],
    );
    assert.is(dladdr(block + BigInt(ANSWER.length + 1))?.sname, 'f_seven');
    // Explicit sizes may leave gaps and overlap nothing.
    const sized = lib.addFunctions(['g_one'], [...ANSWER, 0, 0], [0], [ANSWER.length], { align: 64 });
    assert.is(sized % 64n, 0n);
    assert.is(lib.lookup('g_one')?.size, ANSWER.length);
    lib.free(block);
    noneBound(lib, ['f_answer', 'f_seven', 'f_again']);
    assert.is(dlsym(lib, 'g_one'), sized);
  } finally {
    lib.delete();
  }
});

test('addFunctions and addDataSymbols: bad input is a DlbindError, and a failure frees the block and binds nothing', () => {
  const lib = dlcreate();
  try {
    lib.addFunction('existing', ANSWER);
    const before = lib.stats();
    const code = [...ANSWER, ...SEVEN];
    const cases: [() => unknown, string, RegExp][] = [
      [() => lib.addFunctions([], code, []), 'EINVAL', /addFunctions needs at least one name/],
      [() => lib.addFunctions('f' as never, code, [0]), 'EINVAL', /addFunctions: names must be an array/],
      [() => lib.addFunctions(['a', 'b'], code, [0]), 'EINVAL', /addFunctions: offsets has 1 entries, names has 2/],
      [() => lib.addFunctions(['a', 'b'], code, [0, 6], [6]), 'EINVAL', /addFunctions: sizes has 1 entries, names has 2/],
      [() => lib.addFunctions(['a'], 'c3' as never, [0]), 'EINVAL', /code must be a Uint8Array/],
      [() => lib.addFunctions(['a', 'b'], code, [0, code.length]), 'EINVAL', /offsets\[1\] must be an integer offset into the \d+ bytes, got \d+/],
      [() => lib.addFunctions(['a', 'b'], code, [0, 1.5]), 'EINVAL', /offsets\[1\] must be an integer offset/],
      [() => lib.addFunctions(['a', 'b'], code, [4, 2]), 'EINVAL', /offsets\[1\] is 2, not after offsets\[0\] 4 \(without sizes, offsets must increase\)/],
      [() => lib.addFunctions(['a', 'b'], code, [0, 2], [2, code.length]), 'ERANGE', /sizes\[1\]: \d+ bytes at offset 2 run past the end/],
      [() => lib.addFunctions(['a', 'b'], code, [0, 2], [2, 0]), 'EINVAL', /sizes\[1\]: size must be a positive integer/],
      [() => lib.addFunctions(['a', ''], code, [0, 2]), 'ENAME', /names\[1\]: symbol name is empty/],
      [() => lib.addFunctions(['a', 'a'], code, [0, 2]), 'EEXIST', /names\[1\]: symbol 'a' is already bound/],
      [() => lib.addFunctions(['a', 'existing'], code, [0, 2]), 'EEXIST', /names\[1\]: symbol 'existing' is already bound/],
      [() => lib.addFunctions(['a'], code, [0], undefined, { align: 3 }), 'EALIGN', /alignment must be a power of two/],
      [() => lib.addFunctions(['a'], code, [0], undefined, { writable: true } as never), 'EINVAL', /addFunctions options: unknown option 'writable'/],
      [
        () => lib.addDataSymbols(['d'], [1, 2], [0], undefined, { writeable: true } as never),
        'EINVAL',
        /addDataSymbols options: unknown option 'writeable' \(did you mean 'writable'\?\)/,
      ],
      [() => lib.addDataSymbols(['d', 'd'], [1, 2], [0, 1]), 'EEXIST', /names\[1\]:/],
    ];
    for (const [fn, code, message] of cases) {
      failsWith(fn, code, message);
      noneBound(lib, ['a', 'b', 'd']);
      const now = lib.stats();
      assert.is(now.symbols, before.symbols);
      assert.is(now.textInUse, before.textInUse, message.source);
      assert.is(now.rodataInUse + now.dataInUse, before.rodataInUse + before.dataInUse, message.source);
    }
  } finally {
    lib.delete();
  }
});

test('addDataSymbols: read-only and writable data, a symbol per name, the bytes where dlsym points', () => {
  const lib = dlcreate();
  try {
    const bytes = Uint8Array.from({ length: 24 }, (_, i) => i + 1);
    const ro = lib.addDataSymbols(['ro_a', 'ro_b'], bytes, [0, 16]);
    const rw = lib.addDataSymbols(['rw_a', 'rw_b', 'rw_c'], bytes, [0, 8, 16], [8, 8, 8], { writable: true });
    assert.is(lib.lookup('ro_b')?.section, 'rodata');
    assert.is(lib.lookup('ro_a')?.size, 16);
    assert.is(lib.lookup('rw_c')?.section, 'data');
    assert.is(dlsym(lib, 'ro_b'), ro + 16n);
    assert.is(dlsym(lib, 'rw_b'), rw + 8n);
    // The bytes through libc's address (read back through the library's own view of its memory).
    const view = new Uint8Array(lib.liveObject.mem.buffer, lib.liveObject.mem.byteOffset + Number(dlsym(lib, 'rw_b')! - lib.loadBase), 8);
    assert.equal([...view], [9, 10, 11, 12, 13, 14, 15, 16]);
    assert.is(dladdr(rw + 20n)?.sname, 'rw_c');
  } finally {
    lib.delete();
  }
});

test('an address 2^64 past a good one, or below zero, is refused by bind, bindMany and write, not bound where it wraps to', () => {
  const lib = dlcreate();
  try {
    const base = lib.alloc(64, SHF_WRITE);
    lib.bind('first', base, 8); // the block binds went to last: the short path's case
    const wrapped = base + 8n + (1n << 64n);
    failsWith(() => lib.bind('wrapped', wrapped, 8), 'EFOREIGN', /is not in library/);
    failsWith(() => lib.bind('negative', base + 8n - (1n << 64n), 8), 'EFOREIGN', /is not in library/);
    failsWith(() => lib.bindMany(['wrapped'], [wrapped], [8]), 'EFOREIGN', /addresses\[0\]: /);
    failsWith(() => lib.write(wrapped, [1]), 'EFOREIGN');
    noneBound(lib, ['wrapped', 'negative']);
    lib.bind('second', base + 8n, 8);
    assert.is(dlsym(lib, 'second'), base + 8n);
  } finally {
    lib.delete();
  }
});

test.run();
