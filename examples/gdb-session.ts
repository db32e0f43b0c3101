// Runs the gdb session on JIT code and checks that gdb names the JIT function.
//
//   npx tsx examples/gdb-session.ts
//
// which runs
//
//   gdb -batch -x examples/gdb-session.gdb --args node --import tsx examples/gdb-target.ts
//
// gdb sets a pending breakpoint on jit_square before the program starts; the
// program creates a live library, binds jit_square and calls it; gdb stops
// there and `info symbol $pc` answers "jit_square in section .text of
// /proc/<pid>/fd/<n>". examples/gdb-session.expected.txt shows a whole session.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (spawnSync('gdb', ['--version']).error !== undefined) {
  console.log('skipped: gdb is not installed (Debian: apt-get install gdb)');
  process.exit(0);
}

const args = ['-batch', '-x', 'examples/gdb-session.gdb', '--args', process.execPath, '--import', 'tsx', 'examples/gdb-target.ts'];
console.log(`$ gdb ${args.join(' ').replace(process.execPath, 'node')}`);
// gdb's stderr and stdout, interleaved as a terminal would show them.
const r = spawnSync('sh', ['-c', 'exec gdb "$@" 2>&1', 'sh', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
const out = r.stdout;
process.stdout.write(out);

const checks: [string, RegExp][] = [
  ['the pending breakpoint was hit in the JIT function', /hit Breakpoint 1, 0x[0-9a-f]+ in jit_square \(\) from \/proc\/\d+\/fd\/\d+/],
  ['info symbol names the JIT function', /^jit_square in section \.text of \/proc\/\d+\/fd\/\d+$/m],
  ['the program went on and finished', /jit_square\(7\) = 49/],
];
const failed = checks.filter(([, re]) => !re.test(out));
for (const [what, re] of checks) console.log(`${re.test(out) ? 'ok  ' : 'FAIL'}  ${what}`);
if (r.status !== 0 || failed.length > 0) {
  console.log(`gdb exited with ${r.signal ?? r.status}; ${failed.length} check(s) failed`);
  process.exit(1);
}
