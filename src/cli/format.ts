// Plain-text output: aligned columns, hex addresses, grouped numbers.

/** A column is left-aligned unless it is marked 'right'. */
export type Align = 'left' | 'right';

/**
 * A name from a file, safe to print: C0 controls and DEL as readelf shows them (`^[`, `^?`),
 * C1 controls and the bidirectional overrides as `<U+009B>`, so that no byte of a hostile file
 * reaches the terminal as a command. Everything else is left as it is.
 */
export function printable(text: string): string {
  return UNPRINTABLE.test(text) ? text.replace(UNPRINTABLE_ALL, escapeOne) : text;
}
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNPRINTABLE_ALL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return '^?';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/** Appends `lines` one by one: spreading them into push() overflows the stack past about 120,000 rows. */
export function append(out: string[], lines: readonly string[]): void {
  for (const line of lines) out.push(line);
}

/** Lines of aligned columns, each indented by `indent` spaces; the header row (if any) first. */
export function table(rows: readonly (readonly string[])[], options: { header?: readonly string[]; align?: readonly Align[]; indent?: number } = {}): string[] {
  const all: (readonly string[])[] = options.header === undefined ? [] : [options.header];
  for (const row of rows) all.push(row.map(printable));
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
