// not-aarch64: gdb cannot attach to or run a process under qemu-user here (qemu has its own gdbstub)
// gdb, in batch mode, sees symbols bound after load: info symbol, a pending
// breakpoint set before the bind, x/i, info sharedlibrary; and stops naming a
// symbol once it is unbound. Nothing dlbind-specific is loaded into gdb.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-gdb-');

/** Splits gdb's output at the `@@marker` lines the scripts echo. */
function sections(out: string): Map<string, string> {
  const map = new Map<string, string>();
  let current = '';
  for (const line of out.split('\n')) {
    const m = /^@@(\S+)(.*)$/.exec(line);
    if (m !== null) {
      current = m[1]!;
      map.set(current, m[2]!.trim());
      continue;
    }
    if (current !== '') map.set(current, `${map.get(current)}\n${line}`);
  }
  return map;
}

/** objdump's own disassembly of some bytes, as 'mnemonic operands' lines. */
function objdumpInstructions(bytes: number[]): string[] {
  const file = join(dir, 'code.bin');
  writeFileSync(file, Uint8Array.from(bytes));
  const out = run('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', file]).stdout;
  return out
    .split('\n')
    .map((l) => /^\s+[0-9a-f]+:\t(?:[0-9a-f]{2} )+\s*\t(.*)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => x.replace(/\s+/g, ' ').trim());
}

let output = '';
let skipped = false;

test.before(() => {
  if (!have('gdb')) {
    skipBecause('gdb tests', 'gdb is not installed');
    skipped = true;
    return;
  }
  if (process.arch !== 'x64') {
    skipBecause('gdb tests', 'the target JIT-compiles x86_64 code');
    skipped = true;
    return;
  }
  const script = join(dir, 'script.gdb');
  writeFileSync(
    script,
    [
      'set pagination off',
      'set confirm off',
      // What answering "y" to "Make breakpoint pending on future shared library load?" does in batch mode.
      'set breakpoint pending on',
      'handle SIGUSR2 stop print nopass',
      'break jit_answer',
      'run',
      `source ${join(dir, 'step1.gdb')}`,
      'continue',
      'echo @@breakpoint\\n',
      'info symbol $pc',
      'continue',
      `source ${join(dir, 'step2.gdb')}`,
      'continue',
      '',
    ].join('\n'),
  );
  const r = run('gdb', ['-nx', '-batch', '-x', script, '--args', process.execPath, '--import', 'tsx', 'tests/fixtures/debug-target.ts'], {
    env: { ...process.env, DLBIND_GDB_DIR: dir },
    timeoutMs: 240_000,
  });
  output = `${r.stdout}\n${r.stderr}`;
});

test('the target ran to completion under gdb', () => {
  if (skipped) return;
  assert.match(output, 'jit_answer() = 42', output);
  assert.match(output, 'target done', output);
  assert.match(output, /exited normally/, output);
});

test('info symbol names a function bound after load, also from an address inside another one', () => {
  if (skipped) return;
  const s = sections(output);
  assert.match(s.get('info-symbol-answer') ?? '', /jit_answer in section \.text of \/proc\/\d+\/fd\/\d+/, output);
  assert.match(s.get('info-symbol-add-inside') ?? '', /jit_add \+ 2 in section \.text/, output);
});

test('x/i disassembles the bytes that were written, as objdump reads them', () => {
  if (skipped) return;
  const lines = (sections(output).get('x-answer') ?? '').split('\n').filter((l) => l.includes('<jit_answer'));
  assert.is(lines.length, 2, output);
  const gdbInstructions = lines.map((l) =>
    l
      .replace(/^.*>:\s*/, '')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  assert.equal(gdbInstructions, objdumpInstructions([0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3]));
});

test('info sharedlibrary lists the library with an address range holding the functions', () => {
  if (skipped) return;
  const s = sections(output);
  const [answer, add] = (s.get('addresses') ?? '')
    .split('\n')[0]!
    .split(/\s+/)
    .map((x) => BigInt(x));
  const row = (s.get('sharedlibrary') ?? '').split('\n').find((l) => /^0x[0-9a-f]+\s+0x[0-9a-f]+.*\/proc\/\d+\/fd\/\d+/.test(l));
  assert.ok(row, output);
  const [from, to] = row!
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((x) => BigInt(x));
  assert.ok(from! <= answer! && answer! < to!, row);
  assert.ok(from! <= add! && add! < to!, row);
});

test('a breakpoint set by name before the bind is hit when the function is called through koffi', () => {
  if (skipped) return;
  assert.match(output, /hit Breakpoint 1, 0x[0-9a-f]+ in jit_answer \(\)/, output);
  assert.match(sections(output).get('breakpoint') ?? '', /jit_answer in section \.text/, output);
});

test('after unbind and the next announcement gdb no longer names the function; others stay named', () => {
  if (skipped) return;
  const s = sections(output);
  assert.match(s.get('after-unbind') ?? '', /No symbol matches/, output);
  assert.match(s.get('add-still') ?? '', /jit_add in section \.text/, output);
});

test.run();
