// Runs the gdb session on JIT code and checks that gdb names the JIT function.
//
//   npx tsx examples/gdb-session.ts                       in a clone of the repository
//   node node_modules/dlbind/dist/examples/gdb-session.js  from the installed package
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
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Run from a clone (examples/*.ts under tsx) or from the installed package (dist/examples/*.js
// under plain node): the target program is this file's neighbour of the same kind.
const here = dirname(fileURLToPath(import.meta.url));
const ts = import.meta.url.endsWith('.ts');
const cwd = ts ? join(here, '..') : here;

if (spawnSync('gdb', ['--version']).error !== undefined) {
  console.log('skipped: gdb is not installed (Debian: apt-get install gdb)');
  process.exit(0);
}

const node = ts ? [process.execPath, '--import', 'tsx'] : [process.execPath];
const args = ['-batch', '-x', relative(cwd, join(here, 'gdb-session.gdb')), '--args', ...node, relative(cwd, join(here, `gdb-target.${ts ? 'ts' : 'js'}`))];
console.log(`$ gdb ${args.join(' ').replace(process.execPath, 'node')}`);
// gdb's stderr and stdout, interleaved as a terminal would show them.
const r = spawnSync('sh', ['-c', 'exec gdb "$@" 2>&1', 'sh', ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
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
