// `dlbind inspect` on hostile files, each run as its own process: a file the reader refuses
// ends with exit code 1 and one line on stderr (no stack trace); one it accepts, with exit 0
// and nothing on stderr (or, if something past the reader refuses it, the same one-line exit 1).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ElfFormatError } from '../src/elf/errors.js';
import { readElf } from '../src/elf/reader.js';
import { build, describeInput, input, pick, seeds as makeSeeds } from './fixtures/robust-fuzz-inputs.js';
import { pool, runNode } from './fixtures/robust-children.js';
import { skipBecause, tempDir } from './helpers/tools.js';
import { assertNoWX } from './helpers/wx.js';

const CLI = 'src/cli/main.ts';
const REFUSED = 50;
const ACCEPTED = 10;

test.after.each(() => assertNoWX('after the test'));

interface Sample {
  path: string;
  what: string;
  /** The reader's verdict: undefined when it parses, else the error's gist. */
  refused: string | undefined;
}

/** Hostile files from the fuzz inputs (a fixed seed, so every run sees the same ones), refused ones of as many kinds as possible. */
function samples(dir: string): Sample[] {
  const seeds = makeSeeds();
  const out: Sample[] = [];
  const kinds = new Set<string>();
  let accepted = 0;
  for (const c of fc.sample(input, { seed: 0x5eed, numRuns: 5000 })) {
    if (out.length === REFUSED + ACCEPTED) break;
    const s = pick(seeds, c.seed);
    if (s.options.layout === 'memory') continue;
    const [bytes, undo] = build(seeds, s, c);
    try {
      let refused: string | undefined;
      try {
        readElf(bytes);
      } catch (e) {
        if (!(e instanceof ElfFormatError)) throw e;
        refused = e.what.replace(/\d+|0x[0-9a-f]+|\.[\w.]+/g, '#');
      }
      if (refused === undefined ? accepted >= ACCEPTED : kinds.has(refused) || out.length - accepted >= REFUSED) continue;
      if (refused === undefined) accepted++;
      else kinds.add(refused);
      const path = join(dir, `hostile-${out.length}.so`);
      writeFileSync(path, bytes);
      out.push({ path, what: describeInput(s, c).slice(0, 200), refused });
    } finally {
      undo();
    }
  }
  return out;
}

test(`dlbind inspect on ${REFUSED} refused and ${ACCEPTED} accepted hostile files: exit 1 with one line, or exit 0`, async () => {
  if (!existsSync(CLI)) {
    skipBecause('dlbind inspect', `${CLI} does not exist yet`);
    return;
  }
  const list = samples(tempDir('dlbind-inspect-'));
  assert.is(list.filter((s) => s.refused !== undefined).length, REFUSED, 'enough kinds of refusal');
  const results = await pool(list, 2, async (s) => ({ s, r: await runNode([CLI, 'inspect', s.path]) }));
  const problems: string[] = [];
  for (const { s, r } of results) {
    const where = `${s.path} (${s.refused ?? 'parses'}; ${s.what})`;
    const lines = r.stderr.trimEnd().split('\n');
    if (r.signal !== null) problems.push(`${where}: killed by ${r.signal}`);
    else if (s.refused !== undefined && r.status !== 1) problems.push(`${where}: exit ${r.status}, expected 1`);
    else if (r.status === 1 && (lines.length !== 1 || !lines[0]!.startsWith('dlbind: ') || /\n\s+at /.test(r.stderr)))
      problems.push(`${where}: stderr is not one line: ${r.stderr.slice(0, 500)}`);
    else if (r.status === 0 && r.stderr !== '') problems.push(`${where}: exit 0 but stderr: ${r.stderr.slice(0, 300)}`);
    else if (r.status !== 0 && r.status !== 1) problems.push(`${where}: exit ${r.status}`);
  }
  assert.equal(problems, []);
  const codes = results.map(({ r }) => r.status);
  console.log(`  ${codes.filter((c) => c === 1).length} exited 1 with one line, ${codes.filter((c) => c === 0).length} exited 0`);
});

test.run();
