// The live GNU hash table as other tools see it: after binds, unbinds, replaces and run copies,
// and once the old copies have retired (50 ms on, or at flush()), nm -D on /proc/<pid>/fd/<n>
// lists exactly the bound symbols, readelf warns about nothing, .dynsym's sh_size follows the
// high-water mark, and libc agrees with both; dlsave's output lists them once at any moment.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DT_GNU_HASH, DT_HASH, SHT_DYNSYM } from '../src/elf/constants.js';
import { type JitLibrary, SHF_WRITE, dladdr, dlcreate, dlsave, dlsym, readElf } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

function nmNames(path: string): string[] {
  const r = run('nm', ['-D', path]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '', 'nm printed warnings');
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.trim().split(/\s+/).slice(2).join(' '))
    .sort();
}

/** Waits (turning the event loop) until the retirement timer has made every old copy a tombstone. */
async function untilRetired(lib: JitLibrary): Promise<void> {
  for (let t = 0; lib.symbolTable.copiesLingering > 0; t++) {
    if (t > 3000) assert.unreachable('old copies did not retire within 30 s');
    await sleep(10);
  }
}

/** nm -D's lines as 'name@value' (st_value, relative to the load base). */
function nmEntries(path: string): string[] {
  return run('nm', ['-D', path])
    .stdout.split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [value, , ...name] = l.trim().split(/\s+/);
      return `${name.join(' ')}@${BigInt(`0x${value}`)}`;
    });
}

test('nm -D lists exactly the bound symbols and readelf --dyn-syms warns about nothing, after binds, unbinds and replaces', async () => {
  if (!have('nm') || !have('readelf')) return skipBecause('nm/readelf', 'binutils not installed');
  const lib = dlcreate();
  try {
    const n = 3000;
    const block = lib.alloc(n * 8, SHF_WRITE);
    const bound = new Map<string, bigint>();
    const name = (i: number) => `module_${i % 17}.function_${i}`;
    for (let i = 0; i < n; i++) {
      lib.bind(name(i), block + BigInt(i * 8), 8);
      bound.set(name(i), block + BigInt(i * 8));
    }
    for (let i = 0; i < n; i += 3) {
      lib.unbind(name(i));
      bound.delete(name(i));
    }
    for (let i = 1; i < n; i += 5) {
      lib.bind(name(i), block + BigInt(((i + 1) % n) * 8), 8, undefined, { replace: true });
      bound.set(name(i), block + BigInt(((i + 1) % n) * 8));
    }
    // Every third name comes back: runs grow and are copied again.
    for (let i = 0; i < n; i += 6) {
      if (bound.has(name(i))) continue;
      lib.bind(name(i), block + BigInt(i * 8), 8);
      bound.set(name(i), block + BigInt(i * 8));
    }
    for (let i = 0; i < n; i++) assert.is(dlsym(lib, name(i)), bound.get(name(i)) ?? null, name(i));
    const holders = new Map<bigint, number>();
    for (const addr of bound.values()) holders.set(addr, (holders.get(addr) ?? 0) + 1);
    let named = 0;
    for (const [k, addr] of bound) {
      if (holders.get(addr) !== 1) continue;
      assert.is(dladdr(addr + 3n)?.sname, k, `dladdr names ${k}`);
      named++;
    }
    assert.ok(named > n / 3, `${named} names checked through dladdr`);

    // Right after the churn, the last copies' old runs are intact for readers that may still be on them:
    // nm lists every bound symbol, some twice, and nothing else (no unbound name, no replaced address).
    const expected = [...bound.keys()].sort();
    assert.ok(lib.symbolTable.copiesLingering > 0, 'old copies linger right after a copy');
    const early = nmNames(lib.path);
    assert.ok(early.length > expected.length, `nm lists old copies too during the quarantine (${early.length} lines, ${expected.length} bound)`);
    const base = lib.liveObject.loadBase;
    const boundEntries = [...bound].map(([k, addr]) => `${k}@${addr - base}`).sort();
    assert.equal([...new Set(nmEntries(lib.path))].sort(), boundEntries, 'each nm line during the quarantine is a bound symbol at its address');
    assert.is(run('readelf', ['-W', '--dyn-syms', lib.path]).stderr, '', 'readelf printed warnings during the quarantine');
    // dlsave writes fresh tables from the bound symbols: each once, whatever the timing.
    const saved = join(tempDir('dlbind-symtab-'), 'libsaved.so');
    dlsave(lib, saved);
    assert.equal(nmNames(saved), expected, 'the dlsave output lists each bound symbol once during the quarantine');

    // The timer (no table operation needed) retires them: each bound symbol once.
    await untilRetired(lib);
    assert.equal(nmNames(lib.path), expected, 'nm -D lists the bound symbols, each once');
    const r = run('readelf', ['-W', '--dyn-syms', lib.path]);
    assert.is(r.status, 0);
    assert.is(r.stderr, '', 'readelf printed warnings');

    // flush({ settle: true }) waits out the quarantine and retires them, for a synchronous caller about to run a tool.
    for (let i = 1; i < n; i += 5) lib.bind(name(i), bound.get(name(i))!, 8, undefined, { replace: true });
    assert.ok(nmNames(lib.path).length > expected.length, 'the replaces left old copies');
    assert.throws(() => lib.flush({ setle: true } as never), /EINVAL: flush options: unknown option 'setle'/);
    assert.throws(() => lib.flush({ settle: 1 } as never), /EINVAL: flush's settle must be a boolean, got 1/);
    lib.flush({ settle: true });
    assert.is(lib.symbolTable.copiesLingering, 0);
    assert.equal(nmNames(lib.path), expected, 'after flush(), nm -D lists the bound symbols, each once');

    // sh_size covers the slots in use, not the capacity.
    const file = readElf(new Uint8Array(getLibc().view(lib.liveObject.aliasBase, lib.liveObject.fileSize)));
    const dynsym = file.sections.find((s) => s.sh_type === SHT_DYNSYM)!;
    const capacitySlots = lib.liveObject.layout.dynsymCapacity;
    assert.ok(Number(dynsym.sh_size) / 24 < capacitySlots / 2, `.dynsym sh_size ${dynsym.sh_size} follows use (capacity ${capacitySlots} slots)`);
    assert.ok(Number(dynsym.sh_size) / 24 > bound.size, 'and covers every bound symbol');
    // Only DT_GNU_HASH: glibc would ignore a DT_HASH beside it.
    assert.ok(file.dynamic.some((d) => d.d_tag === DT_GNU_HASH));
    assert.not.ok(file.dynamic.some((d) => d.d_tag === DT_HASH));
  } finally {
    lib.delete();
  }
});

test('the failing case: an all-zero slot below sh_size is what nm prints as an empty U line and readelf warns about', () => {
  if (!have('nm') || !have('readelf')) return skipBecause('nm/readelf', 'binutils not installed');
  const lib = dlcreate();
  try {
    const block = lib.alloc(64, SHF_WRITE);
    lib.bind('only', block, 8);
    const o = lib.liveObject;
    const mem = new Uint8Array(getLibc().view(o.aliasBase, o.fileSize));
    const file = readElf(mem);
    const dynsym = file.sections.find((s) => s.sh_type === SHT_DYNSYM)!;
    // Tombstones hide the unused slots of a run: turn one back into zeros (LOCAL NOTYPE UND).
    const used = Number(dynsym.sh_size) / 24;
    const off = Number(dynsym.sh_offset) + (used - 1) * 24;
    assert.is(mem[off + 4], 0x14, 'an unused slot of the run is a GLOBAL STT_FILE tombstone');
    mem[off + 4] = 0;
    assert.ok(nmNames(o.path).includes(''), 'nm lists the zero entry');
    assert.match(run('readelf', ['-W', '--dyn-syms', o.path]).stderr, /local symbol/);
    mem[off + 4] = 0x14;
    assert.equal(nmNames(o.path), ['only']);
  } finally {
    lib.delete();
  }
});

test('dladdr names only what is bound: an unbound symbol is not named, a replaced one by its new address only', () => {
  const lib = dlcreate();
  try {
    const block = lib.alloc(4 * 64, SHF_WRITE);
    for (let i = 0; i < 4; i++) lib.bind(`d${i}`, block + BigInt(i * 64), 64);
    assert.is(dladdr(block + 64n + 5n)?.sname, 'd1');
    lib.unbind('d1');
    assert.is(dladdr(block + 64n + 5n)?.sname ?? null, null, 'nothing covers the address now');
    assert.is(dladdr(block + 63n)?.sname, 'd0');
    lib.bind('d2', block + 3n * 64n + 8n, 8, undefined, { replace: true });
    assert.is(dladdr(block + 2n * 64n + 1n)?.sname ?? null, null, 'd2 no longer covers its old range');
    assert.is(dladdr(block + 3n * 64n + 8n)?.sname, 'd2');
    assert.is(dlsym(lib, 'd2'), block + 3n * 64n + 8n);
  } finally {
    lib.delete();
  }
});

test.run();
