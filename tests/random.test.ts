// arch: aarch64
// The random words behind an alias's place in its space and a default library name
// (src/loader/random.ts): from /dev/urandom, never a constant or a repeating pool, and not the
// same in two processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomHex, randomWord } from '../src/loader/random.js';
import { run } from './helpers/tools.js';

test('randomWord gives 32-bit words that do not repeat across pool refills', () => {
  const words = Array.from({ length: 4096 }, () => randomWord());
  for (const w of words) assert.ok(Number.isInteger(w) && w >= 0 && w < 2 ** 32, `not a 32-bit word: ${w}`);
  // 16 pools of 256: a pool read wrongly (all zeros, or the same bytes again) would repeat.
  assert.ok(new Set(words).size > 4080, `only ${new Set(words).size} distinct words of 4096`);
  let high = 0;
  for (const w of words) if (w >= 2 ** 31) high++;
  assert.ok(high > 1800 && high < 2300, `${high} of 4096 words have the top bit set`);
});

test('randomHex gives exactly the digits asked for, lowercase hex, not repeating', () => {
  for (const digits of [1, 6, 8, 9, 16]) {
    const drawn = Array.from({ length: 200 }, () => randomHex(digits));
    for (const h of drawn) assert.match(h, new RegExp(`^[0-9a-f]{${digits}}$`));
    if (digits >= 6) assert.is(new Set(drawn).size, drawn.length, `${digits} digits repeated`);
  }
});

test('two processes draw different words', () => {
  const first = () => {
    const p = run(process.execPath, [...process.execArgv, '-e', "import('./src/loader/random.ts').then((m) => console.log(m.randomWord()))"]);
    assert.is(p.status, 0, p.stderr);
    return p.stdout.trim();
  };
  const a = first();
  assert.match(a, /^\d+$/);
  assert.is.not(a, first());
});

test.run();
