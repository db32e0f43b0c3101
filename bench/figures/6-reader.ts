// Figure 6: the reader. readElf on the system's libc.so.6 and on the
// million-function file of figure 5, every dynamic symbol decoded, against
// `readelf -W --dyn-syms` on the same files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getLibc, readElf } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { collect, time } from '../lib/stats.js';
import { benchDir, have, measureProcess, run as runTool } from '../lib/tools.js';

const RUNS = 5;

export function run(ctx: Context) {
  const n = ctx.quick ? 100_000 : 1_000_000;
  getLibc();
  const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
  if (libc === undefined) throw new Error('libc.so.6 is not in /proc/self/maps');
  const big = join(ctx.workDir, `writer-${n}.so`);
  if (!existsSync(big)) runTool(process.execPath, ['--import', 'tsx', join(benchDir, 'children', 'writer.ts'), String(n), big], { quiet: true });
  const files = { libc, big } as const;
  const f = new Figure(6, `Reader: readElf on ${libc} and on the ${n.toLocaleString('en-US')}-function file of figure 5`, { files, runs: RUNS });
  if (!have('readelf')) f.note('readelf is not installed: the anchors are skipped.');
  const ours = {
    libc: f.measure({ id: 'ours-libc', label: 'readElf(libc.so.6): read the file, decode it, touch every dynamic symbol', show: 'time' }),
    big: f.measure({ id: 'ours-big', label: `readElf(${n.toLocaleString('en-US')} functions): the same`, show: 'time' }),
  };
  const tool = {
    libc: f.measure({ id: 'readelf-libc', label: 'readelf -W --dyn-syms libc.so.6 (whole process; anchor)', show: 'time' }),
    big: f.measure({ id: 'readelf-big', label: `readelf -W --dyn-syms, ${n.toLocaleString('en-US')} functions (whole process; anchor)`, show: 'time' }),
  };
  const counts: Record<string, string> = {};
  const read = (path: string): number => {
    const e = readElf(readFileSync(path));
    let chars = 0;
    for (const s of e.dynamicSymbols) chars += s.name.length;
    counts[path] =
      `${e.dynamicSymbols.length.toLocaleString('en-US')} dynamic symbols (${chars.toLocaleString('en-US')} name characters) and ${e.symbols.length.toLocaleString('en-US')} .symtab symbols`;
    return chars;
  };
  for (const k of ['libc', 'big'] as const) read(files[k]); // warm-up

  for (let r = 0; r < RUNS; r++) {
    for (const k of ['libc', 'big'] as const) {
      collect();
      ours[k](time(() => read(files[k])));
      if (have('readelf')) tool[k](measureProcess(ctx.binDir, 'readelf', ['-W', '--dyn-syms', files[k]]).seconds);
    }
    ctx.log(`run ${r + 1} done`);
  }
  f.ratio('readElf vs readelf, libc.so.6', 'ours-libc', 'readelf-libc');
  f.ratio(`readElf vs readelf, ${n.toLocaleString('en-US')} functions`, 'ours-big', 'readelf-big');
  f.note(
    `readElf decodes ${counts[libc]} in libc.so.6, and ${counts[big]} in the big file: it reads .symtab too, which readelf --dyn-syms does not. Ours is timed in-process after one untimed warm-up (file read included); readelf as a whole process writing its listing to /dev/null.`,
  );
  return f.result();
}
