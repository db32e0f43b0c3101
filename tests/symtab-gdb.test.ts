// not-aarch64: gdb cannot attach to or run a process under qemu-user here (qemu has its own gdbstub)
// gdb and the old copies of a run: while one is in its quarantine, nm -D on the live file lists
// the symbols it held twice (exact copies: same name, address, size), and gdb, told then, reads
// them as one minimal symbol (one function, one breakpoint location). A replaced function's old
// copies are tombstones at once: gdb and nm know only its new address.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { have, run, skipBecause, tempDir } from './helpers/tools.js';

test('gdb told while an exact old copy lingers lists the function once and sets one breakpoint location; a replaced one only at its new address', () => {
  if (!have('gdb') || !have('nm')) return skipBecause('gdb/nm', 'not installed');
  if (process.arch !== 'x64') return skipBecause('the gdb target', 'it JIT-compiles x86_64 code');
  const dir = tempDir('dlbind-symtab-gdb-');
  const script = join(dir, 'script.gdb');
  writeFileSync(
    script,
    [
      'set pagination off',
      'set confirm off',
      'handle SIGUSR2 stop print nopass',
      'run',
      'echo @@functions\\n',
      'info functions ^jit_',
      'echo @@breaks\\n',
      'break jit_dup',
      'break jit_moved',
      'info breakpoints',
      'echo @@end\\n',
      'delete',
      'continue',
      '',
    ].join('\n'),
  );
  const r = run('gdb', ['-nx', '-batch', '-x', script, '--args', process.execPath, '--import', 'tsx', 'tests/fixtures/symtab-gdb-target.ts'], {
    timeoutMs: 240_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.match(out, 'target done', out);
  const m = /@@target dup=(0x[0-9a-f]+) moved=(0x[0-9a-f]+) movedTo=(0x[0-9a-f]+) lingering=(\d+)/.exec(out);
  assert.ok(m, out);
  const [, dup, moved, movedTo, lingering] = m!;
  assert.ok(Number(lingering) >= 2, 'old copies lingered when gdb was told');
  // The failing case for a tool that does not merge: nm lists jit_dup twice, at one address.
  const nm = (/@@nm (.*)/.exec(out)?.[1] ?? '').split(' | ');
  assert.is(nm.filter((l) => / T jit_dup$/.test(l)).length, 2, `nm lists the exact copy: ${nm.join('\n')}`);
  assert.is(new Set(nm.filter((l) => / T jit_dup$/.test(l)).map((l) => l.split(' ')[0])).size, 1, 'at one address');
  // The replaced function: its old copies are tombstones, nm lists it once.
  assert.is(nm.filter((l) => / T jit_moved$/.test(l)).length, 1, nm.join('\n'));
  const functions = out.slice(out.indexOf('@@functions'), out.indexOf('@@breaks'));
  const listed = functions.split('\n').filter((l) => /^0x[0-9a-f]+\s+jit_/.test(l));
  const at = (a: string) => `0x${BigInt(a).toString(16).padStart(16, '0')}`;
  assert.equal(
    listed.map((l) => l.trim().split(/\s+/)),
    [
      [at(dup), 'jit_dup'],
      [at(movedTo), 'jit_moved'],
    ],
    functions,
  );
  assert.not.match(functions, at(moved), 'the replaced address is not named');
  const breaks = out.slice(out.indexOf('@@breaks'), out.indexOf('@@end'));
  assert.not.match(breaks, '<MULTIPLE>', breaks);
  assert.match(breaks, new RegExp(`Breakpoint 1 at ${dup}\\b`), breaks);
  assert.match(breaks, new RegExp(`Breakpoint 2 at ${movedTo}\\b`), breaks);
});

test.run();
