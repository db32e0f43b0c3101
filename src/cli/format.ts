// Plain-text output: aligned columns, hex addresses, grouped numbers.

/** A column is left-aligned unless it is marked 'right'. */
export type Align = 'left' | 'right';

/** Lines of aligned columns, each indented by `indent` spaces; the header row (if any) first. */
export function table(rows: readonly (readonly string[])[], options: { header?: readonly string[]; align?: readonly Align[]; indent?: number } = {}): string[] {
  const all = options.header === undefined ? rows : [options.header, ...rows];
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const pad = ' '.repeat(options.indent ?? 2);
  return all.map((row) => {
    const cells = row.map((cell, i) => {
      const last = i === row.length - 1;
      if (options.align?.[i] === 'right') return cell.padStart(widths[i]!);
      return last ? cell : cell.padEnd(widths[i]!);
    });
    return `${pad}${cells.join('  ')}`.trimEnd();
  });
}

/** 0x-prefixed lowercase hex, optionally zero-padded to `digits`. */
export function hex(value: bigint | number, digits = 0): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

/** 1,048,576 */
export function grouped(n: number | bigint): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A section heading. */
export function heading(text: string): string {
  return `\n${text}`;
}
