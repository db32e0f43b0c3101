// arch: aarch64
// glibc versions: before 2.35 ld.so relocates .dynamic's d_ptr entries in place and faults on a
// read-only .dynamic; since 2.35 it leaves a read-only one alone. dlbind detects the running
// glibc and lays the zygote out for it. Both layouts are tried here, each in a child process
// (this machine runs 2.36, which loads either): a writable PT_DYNAMIC is relocated in place, a
// read-only one is not, the shared remap of the data never covers .dynamic's page, readElf reads
// d_ptr entries right in both, and binding and lookups work in both.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PF_W, PT_DYNAMIC } from '../src/elf/constants.js';
import { dlcreate } from '../src/index.js';
import { glibcVersion } from '../src/loader/libc.js';
import { glibcRelocatesDynamic } from '../src/loader/live-object.js';
import { runNode } from './fixtures/robust-children.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

test('the running glibc is detected: its version agrees with process.report, and the default layout follows it', () => {
  const [major, minor] = glibcVersion();
  const report = (process.report.getReport() as { header: { glibcVersionRuntime: string } }).header.glibcVersionRuntime;
  assert.is(`${major}.${minor}`, report);
  assert.is(glibcRelocatesDynamic(), major < 2 || (major === 2 && minor < 35));
  const lib = dlcreate(undefined, { text: 1 << 16 });
  try {
    const dyn = lib.liveObject.layout.segments.find((s) => s.p_type === PT_DYNAMIC)!;
    assert.is((dyn.p_flags & PF_W) !== 0, glibcRelocatesDynamic());
  } finally {
    lib.delete();
  }
});

for (const layout of ['writable', 'read-only']) {
  test(`${layout} .dynamic: ${layout === 'writable' ? 'relocated in place (the glibc < 2.35 layout)' : 'left alone (the glibc >= 2.35 layout)'}, read right by readElf, and binding, lookups, calls and dlsave work`, async () => {
    const r = await runNode(['tests/fixtures/robust-glibc-layout.ts', layout]);
    const pid = /^pid (\d+)$/m.exec(r.stdout)?.[1];
    assert.ok(pid !== undefined, r.stdout);
    assert.not.ok(existsSync(join(tmpdir(), `dlbind-glibc-${pid}.so`)), 'the child leaves no saved object in /tmp');
    const steps = r.stdout.trim().split('\n');
    const last = steps.filter((l) => l.startsWith('step ')).pop() ?? '(before the first step)';
    assert.ok(r.signal === null && r.status === 0, `child ended with ${r.signal ?? `status ${r.status}`} at ${last}: ${r.stderr.slice(-1000)}`);
    assert.is(steps.at(-1), 'ok');
  });
}

test.run();
