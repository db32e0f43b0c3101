// The same content linked by GNU ld, to compare what dlbind writes with what the linker writes:
// the content sections of an object we wrote (bytes, symbols, RELATIVE pointers) are turned
// back into assembly, assembled with GNU as and linked with `ld -shared` (default max-page-size).
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHT_NOBITS, STT_FUNC } from '../../src/elf/constants.js';
import { readElf } from '../../src/elf/reader.js';
import { mustRun } from './tools.js';

export interface GnuLdResult {
  path: string;
  size: number;
}

const CONTENT = ['.text', '.rodata', '.data', '.bss'];

/**
 * Links the content of `ours` (a shared object dlbind wrote) with `<prefix>ld -shared`. With
 * `sameAddresses`, each content section is placed where ours has it (--section-start), as a
 * dlsave file must keep its live addresses; otherwise ld lays it out as it likes.
 */
export function linkWithGnuLd(ours: string, dir: string, options: { prefix: string; sameAddresses: boolean; name: string }): GnuLdResult {
  const file = readElf(readFileSync(ours));
  const bytes = readFileSync(ours);
  const present = file.sections.filter((s) => CONTENT.includes(s.name) && s.sh_size > 0n);
  const label = (name: string) => `L${name.slice(1)}`;
  const sectionAt = (addr: bigint) => present.find((s) => s.sh_addr <= addr && addr < s.sh_addr + s.sh_size);
  const relocated = new Map(file.relocations.map((r) => [r.r_offset, r.r_addend]));
  const lines: string[] = [];
  for (const s of present) {
    const flags = s.name === '.text' ? '"ax",%progbits' : s.name === '.rodata' ? '"a",%progbits' : s.name === '.data' ? '"aw",%progbits' : '"aw",%nobits';
    lines.push(`.section ${s.name},${flags}`, `.balign ${s.sh_addralign}`, `${label(s.name)}:`);
    if (s.sh_type === SHT_NOBITS) {
      lines.push(`.zero ${s.sh_size}`);
      continue;
    }
    const at = Number(s.sh_offset);
    for (let i = 0; i < Number(s.sh_size); ) {
      const addend = relocated.get(s.sh_addr + BigInt(i));
      const target = addend === undefined ? undefined : sectionAt(addend);
      if (addend !== undefined && target !== undefined) {
        lines.push(`.quad ${label(target.name)} + ${addend - target.sh_addr}`);
        i += 8;
        continue;
      }
      lines.push(`.byte ${bytes[at + i]}`);
      i++;
    }
  }
  for (const sym of file.dynamicSymbols.slice(1)) {
    const s = sectionAt(sym.st_value) ?? present.find((x) => x.sh_addr + x.sh_size === sym.st_value);
    if (s === undefined) continue;
    lines.push(
      `.globl ${sym.name}`,
      `.type ${sym.name}, ${sym.type === STT_FUNC ? '%function' : '%object'}`,
      `.set ${sym.name}, ${label(s.name)} + ${sym.st_value - s.sh_addr}`,
      `.size ${sym.name}, ${sym.st_size}`,
    );
  }
  const asm = join(dir, `${options.name}.s`);
  const obj = join(dir, `${options.name}.o`);
  const out = join(dir, `${options.name}.so`);
  writeFileSync(asm, `${lines.join('\n')}\n`);
  mustRun(`${options.prefix}as`, ['-o', obj, asm]);
  const starts = options.sameAddresses ? present.map((s) => `--section-start=${s.name}=0x${s.sh_addr.toString(16)}`) : [];
  const hash = file.gnuHash && file.sysvHash ? 'both' : file.gnuHash ? 'gnu' : 'sysv';
  mustRun(`${options.prefix}ld`, ['-shared', `--hash-style=${hash}`, ...(file.soname ? ['-soname', file.soname] : []), ...starts, '-o', out, obj]);
  return { path: out, size: statSync(out).size };
}
