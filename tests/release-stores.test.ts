// not-aarch64: forces the aarch64 publishing path on x86_64; on arm64 it is the default path, which the tagged tests take
// The aarch64 publishing path (store-release through Atomics.store) runs on
// x86_64 too when forced: the live-library tests pass through it as well.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from './helpers/tools.js';

test('the live-library tests pass with store-release publishing forced', () => {
  const r = run(process.execPath, ['--import', 'tsx', 'tests/jit.test.ts'], {
    env: { ...process.env, DLBIND_FORCE_RELEASE_STORES: '1', NO_COLOR: '1' },
    timeoutMs: 120_000,
  });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const passed = Number(/Passed:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  assert.ok(passed >= 10, r.stdout);
});

test.run();
