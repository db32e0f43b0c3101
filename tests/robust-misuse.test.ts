// arch: aarch64
// Misuse of the live-library API, case by case, in child processes: each ends normally
// (exit 0, no signal) and reports the DlbindError code that the case calls for. No misuse
// may end in SIGSEGV, SIGBUS or SIGABRT, and after one the library must still work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CASES } from './fixtures/robust-misuse.js';
import { pool, runNode } from './fixtures/robust-children.js';

const FIXTURE = 'tests/fixtures/robust-misuse.ts';

/** What each case must report: a DlbindError code, or what a case that must not throw found. */
const EXPECTED: Record<string, string> = {
  ...Object.fromEntries(
    Object.keys(CASES)
      .filter((c) => c.startsWith('deleted.'))
      .map((c) => [c, 'EDELETED']),
  ),
  'write.partly-outside': 'ERANGE',
  'write.past-size-into-rounding': 'ERANGE',
  'write.wholly-outside-block': 'EFOREIGN',
  'write.outside-library': 'EFOREIGN',
  'write.address-0': 'EFOREIGN',
  'write.address-negative': 'EFOREIGN',
  'write.address-above-2^64': 'EFOREIGN',
  'write.address-string': 'EINVAL',
  'write.bytes-not-a-view': 'EINVAL',
  'write.freed': 'EFREED',
  'write.freed-middle': 'EFREED',
  'free.double': 'EFREED',
  'free.inside-a-block': 'EFOREIGN',
  'free.never-allocated': 'EFOREIGN',
  'free.outside-library': 'EFOREIGN',
  'name.empty': 'ENAME',
  'name.empty-bytes': 'ENAME',
  'name.nul': 'ENAME',
  'name.nul-bytes': 'ENAME',
  'name.invalid-utf8-bytes': 'ENAME',
  'name.overlong-utf8-nul': 'ENAME',
  'name.truncated-utf8': 'ENAME',
  'name.lone-surrogate': 'ENAME',
  'name.not-a-string': 'ENAME',
  // A name that could never fit: the string table is what must grow.
  'name.longer-than-string-table': 'ESTRFULL',
  'name.dlsym-nul': 'ENAME',
  'name.dlunbind-empty': 'ENAME',
  'bind.duplicate': 'EEXIST',
  'bind.past-block': 'ERANGE',
  'bind.type-tls': 'EINVAL',
  'bind.number-address': 'found',
  ...Object.fromEntries(
    ['0', 'negative', 'fractional', '2^53', 'bigint-2^53+1', 'bigint-negative', 'NaN', 'Infinity', 'string'].flatMap((n) => [
      [`alloc.size-${n}`, 'EINVAL'],
      [`bind.size-${n}`, 'EINVAL'],
    ]),
  ),
  'alloc.size-above-capacity': 'ENOSPACE',
  'bind.size-above-capacity': 'ERANGE',
  ...Object.fromEntries(['3', '0', 'negative', 'fractional', 'above-page', 'NaN'].map((n) => [`alloc.align-${n}`, 'EALIGN'])),
  'alloc.flags-write-exec': 'EWX',
  'alloc.flags-unknown': 'EINVAL',
  ...Object.fromEntries(['dlbind', 'dlwrite', 'dlfree', 'dlalias', 'dlreloc'].map((n) => [`foreign.${n}`, 'EFOREIGN'])),
  'exhaust.symbols': 'ESYMFULL',
  'exhaust.strings': 'ESTRFULL',
  'exhaust.text': 'ENOSPACE',
  'exhaust.rodata': 'ENOSPACE',
  'exhaust.data': 'ENOSPACE',
  'unbind.then-dlsym': 'null',
  'unbind.then-dladdr': 'unnamed',
  'unbind.twice': 'false',
  'api.not-a-library': 'EINVAL',
  'api.create-bad-capacity': 'EINVAL',
  'api.create-bad-name': 'EINVAL',
  'api.create-bad-backing': 'EINVAL',
  'api.dlfunc-address-0': 'EINVAL',
  'api.dlreloc-text': 'EINVAL',
  'api.dlreloc-unaligned': 'EALIGN',
  'api.dlsave-missing-directory': 'EINVAL',
};

test('the case list and the expectations name the same cases', () => {
  assert.equal(Object.keys(CASES).sort(), Object.keys(EXPECTED).sort());
  assert.ok(Object.keys(CASES).length >= 90);
});

test('every misuse ends the child normally with the expected outcome', async () => {
  // One child per group of cases (deleted.*, write.*, ...): a case prints its line before the
  // next one starts, so a crash names its case, the first of the group without a line.
  const groups = new Map<string, string[]>();
  for (const name of Object.keys(CASES)) {
    const g = name.split('.')[0]!;
    groups.set(g, [...(groups.get(g) ?? []), name]);
  }
  const results = await pool([...groups], 2, async ([group, cases]) => ({ group, cases, r: await runNode([FIXTURE, ...cases]) }));
  const problems: string[] = [];
  for (const { group, cases, r } of results) {
    const seen = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const m = /^(\S+) => (.*)$/.exec(line);
      if (m !== null) seen.set(m[1]!, m[2]!);
    }
    if (r.signal !== null || r.status !== 0) {
      const culprit = cases.find((c) => !seen.has(c)) ?? '(after the last case)';
      problems.push(`${group}: child ended with ${r.signal ?? `status ${r.status}`} in case ${culprit}: ${r.stderr.slice(-800)}`);
    }
    for (const c of cases) {
      const got = seen.get(c);
      if (got !== undefined && got !== EXPECTED[c]) problems.push(`${c}: expected ${EXPECTED[c]}, got ${got}`);
    }
  }
  assert.equal(problems, []);
});

test.run();
