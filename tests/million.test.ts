// A million functions with realistic names in a library created with no options: every one found by
// libc dlsym, a spread of them named by dladdr, all saved with dlsave and found by a C program in the
// saved file at the same offsets.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, STT_FUNC, dladdr, dlcreate } from '../src/index.js';
import { getLibc } from '../src/loader/libc.js';
import { findAllSource } from './fixtures/find-all.js';
import { compileC, have, mustRun, skipBecause, tempDir } from './helpers/tools.js';

const N = 1_000_000;
const STRIDE = 16;
const dir = tempDir('dlbind-million-');

const FIND_ALL = findAllSource(STRIDE);

test(`${N.toLocaleString('en')} functions named module_<m>.function_<i> in a default library: libc finds them all, dladdr names them, dlsave keeps them for a C program`, () => {
  const started = performance.now();
  const lib = dlcreate();
  try {
    const names = Array.from({ length: N }, (_, i) => `module_${i % 97}.function_${i}`);
    const text = lib.alloc(N * STRIDE, SHF_EXECINSTR);
    // ret, padded with int3: each function is one 16-byte slot.
    const code = new Uint8Array(N * STRIDE).fill(0xcc);
    for (let i = 0; i < N; i++) code[i * STRIDE] = 0xc3;
    lib.write(text, code);
    for (let i = 0; i < N; i++) lib.bind(names[i]!, text + BigInt(i * STRIDE), STRIDE, STT_FUNC);
    const bound = performance.now();
    assert.is(lib.stats().symbols, N);

    const c = getLibc();
    const handle = lib.handle;
    let missing = 0;
    for (let i = 0; i < N; i++) if (c.dlsym(handle, names[i]!) !== text + BigInt(i * STRIDE)) missing++;
    assert.is(missing, 0, 'names libc dlsym does not find at their address');
    // dladdr walks every chain of the object (a million symbols here) at each call: a spread of 200.
    for (let k = 0; k < 200; k++) {
      const i = k === 199 ? N - 1 : Math.floor((k * N) / 199);
      assert.is(dladdr(text + BigInt(i * STRIDE) + 5n)?.sname, names[i], `dladdr in ${names[i]}`);
    }
    const looked = performance.now();

    const saved = join(dir, 'libmillion.so');
    lib.save(saved);
    const savedAt = performance.now();
    console.log(
      `  bind ${((bound - started) / 1000).toFixed(1)} s, dlsym + dladdr ${((looked - bound) / 1000).toFixed(1)} s, dlsave ${((savedAt - looked) / 1000).toFixed(1)} s`,
    );
    if (!have('gcc')) return skipBecause('the C program', 'gcc is not installed');
    writeFileSync(join(dir, 'names.txt'), `${names.join('\n')}\n`);
    const exe = compileC(dir, 'findall', FIND_ALL, ['-ldl'], join(dir, 'findall'));
    const r = mustRun(exe, [saved, join(dir, 'names.txt')], { timeoutMs: 120_000 });
    assert.match(r.stdout, new RegExp(`^${N} names, 0 wrong`));
  } finally {
    lib.delete();
  }
});

test.run();
