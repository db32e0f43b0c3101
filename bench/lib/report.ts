// Printing figures: a plain-text table for the terminal and Markdown for BENCHMARKS.md.
import type { FigureResult, Goal, Measurement, Ratio } from './figure.js';
import { bytes, duration, num } from './stats.js';

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  node: string;
  glibc: string;
  koffi: string;
  tools: Record<string, string>;
}

export interface Results {
  mode: 'full' | 'quick';
  command: string;
  date: string;
  seconds: number;
  /** The 1-minute load average when the run started and ended (the machine is shared). */
  loadAverage: { start: number; end: number };
  /** The share of the CPUs' time during the run that a hypervisor gave to other guests (steal, from /proc/stat); absent in older results. */
  steal?: number;
  /** The commit measured. */
  revision: string;
  /** How the library under test was loaded. */
  library: string;
  machine: Machine;
  figures: FigureResult[];
}

/** One value of a measurement in its own unit. */
export function show(m: Pick<Measurement, 'show' | 'per'>, value: number): string {
  if (m.show === 'bytes') return bytes(value);
  if (m.show === 'rate') return `${num(1 / value)} ${m.per ?? 'op'}s/s`;
  return m.per === undefined ? duration(value) : `${duration(value)}/${m.per}`;
}

/** Median, min and max in the measurement's unit; for a rate, min is the slowest run. */
export function cells(m: Measurement): [string, string, string] {
  if (m.show === 'rate') return [show(m, m.median), show(m, m.max), show(m, m.min)];
  return [show(m, m.median), show(m, m.min), show(m, m.max)];
}

function kindOf(figure: FigureResult, id: string): Measurement['show'] {
  return figure.measurements.find((m) => m.id === id)?.show ?? 'time';
}

/** "3,205× faster" / "1.04× slower" (or smaller/larger for bytes). */
export function reading(ratio: number, show: Measurement['show']): string {
  const [less, more] = show === 'bytes' ? ['smaller', 'larger'] : ['faster', 'slower'];
  if (ratio === 1) return 'the same';
  return ratio < 1 ? `${num(1 / ratio)}× ${less}` : `${num(ratio)}× ${more}`;
}

function ratioValue(v: number): string {
  return v >= 0.01 ? v.toFixed(v >= 10 ? 1 : 3) : v.toPrecision(3);
}

/** The per-run range of a paired ratio, or how an unpaired one was made. */
function ratioRange(r: Ratio): string {
  return r.pairing === 'run' ? `${ratioValue(r.min!)} – ${ratioValue(r.max!)}` : 'of medians';
}

/** "≥ 1,000× faster: met", or how far off a missed goal is (value ÷ limit). */
function verdict(value: number, goal: Goal): string {
  return value <= goal.max ? `${goal.text}: met` : `${goal.text}: MISSED (${num(value / goal.max)}× off)`;
}

function pad(s: string, n: number, right = false): string {
  const len = [...s].length;
  return right ? ' '.repeat(Math.max(0, n - len)) + s : s + ' '.repeat(Math.max(0, n - len));
}

function table(rows: string[][], rightFrom: number): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)));
  return rows.map((r) => `  ${r.map((cell, c) => pad(cell, widths[c]!, c >= rightFrom)).join('  ')}`.trimEnd()).join('\n');
}

function labelOf(figure: FigureResult, id: string): string {
  return figure.measurements.find((m) => m.id === id)?.label ?? id;
}

export function renderFigureText(f: FigureResult): string {
  const out: string[] = [`[${f.id}] ${f.title}`];
  if (f.unavailable !== undefined) {
    out.push(`  not available: ${f.unavailable}`);
  } else {
    out.push(table([['measurement', 'median', 'min', 'max', 'samples'], ...f.measurements.map((m) => [m.label, ...cells(m), String(m.runs)])], 1));
    if (f.ratios.length > 0) {
      out.push('');
      out.push(
        table(
          [
            ['ratio (dlbind ÷ anchor)', 'median', 'per-run range', 'reading', 'goal'],
            ...f.ratios.map((r) => [r.label, ratioValue(r.value), ratioRange(r), reading(r.value, kindOf(f, r.of)), r.goal ? verdict(r.value, r.goal) : '']),
          ],
          1,
        ),
      );
    }
    for (const g of f.goals) out.push(`  goal: ${labelOf(f, g.of)}: ${show(f.measurements.find((m) => m.id === g.of)!, g.value)}, ${verdict(g.value, g)}`);
  }
  for (const n of f.notes) out.push(`  note: ${n}`);
  return out.join('\n');
}

export function renderMachineText(m: Machine): string {
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, Linux ${m.kernel}`,
    `node ${m.node}, glibc ${m.glibc}, koffi ${m.koffi}`,
    ...Object.entries(m.tools).map(([k, v]) => `${k}: ${v}`),
  ].join('\n');
}

export interface GoalLine {
  figure: number;
  /** What is measured or compared. */
  what: string;
  /** The median (or ratio of medians) with its reading. */
  result: string;
  /** The goal and whether it is met, or how far off. */
  verdict: string;
  met: boolean;
}

/** Every goal of every figure. */
export function goalLines(figures: readonly FigureResult[]): GoalLine[] {
  const lines: GoalLine[] = [];
  for (const f of figures) {
    for (const g of f.goals) {
      lines.push({
        figure: f.id,
        what: labelOf(f, g.of),
        result: show(f.measurements.find((m) => m.id === g.of)!, g.value),
        verdict: verdict(g.value, g),
        met: g.met,
      });
    }
    for (const r of f.ratios) {
      if (r.goal === undefined) continue;
      lines.push({
        figure: f.id,
        what: r.label,
        result: `${ratioValue(r.value)} (${reading(r.value, kindOf(f, r.of))})`,
        verdict: verdict(r.value, r.goal),
        met: r.met === true,
      });
    }
  }
  return lines;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|');

/** The run, the machine and the tools, as Markdown. */
function markdownHeader(results: Results): string[] {
  const m = results.machine;
  return [
    `- Run: ${results.mode}, ${results.date}, ${Math.round(results.seconds)} s, \`${results.command}\`; 1-minute load average ${results.loadAverage.start.toFixed(1)} at the start, ${results.loadAverage.end.toFixed(1)} at the end${results.steal === undefined ? '' : `; steal (CPU time the hypervisor gave to other guests) ${(results.steal * 100).toFixed(1)}% of the run`}`,
    `- Library under test: ${results.library}, at ${results.revision}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, Linux ${m.kernel}`,
    `- node ${m.node}, glibc ${m.glibc}, koffi ${m.koffi}`,
    `- Tools: ${Object.entries(m.tools)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
    '',
  ];
}

export function renderMarkdown(results: Results): string {
  const out: string[] = markdownHeader(results);
  out.push('| figure | measured | result | goal |', '| ---: | --- | --- | --- |');
  for (const g of goalLines(results.figures)) out.push(`| ${g.figure} | ${esc(g.what)} | ${esc(g.result)} | ${esc(g.verdict)} |`);
  out.push('');
  for (const f of results.figures) {
    out.push(`### ${f.id}. ${esc(f.title)}`, '');
    if (f.unavailable !== undefined) {
      out.push(`Not available: ${esc(f.unavailable)}`, '');
    } else {
      out.push('| measurement | median | min | max | samples |', '| --- | ---: | ---: | ---: | ---: |');
      for (const m of f.measurements) out.push(`| ${esc(m.label)} | ${cells(m).join(' | ')} | ${m.runs} |`);
      out.push('');
      if (f.ratios.length > 0) {
        out.push('| ratio (dlbind ÷ anchor) | median | per-run range | reading | goal |', '| --- | ---: | ---: | --- | --- |');
        for (const r of f.ratios)
          out.push(
            `| ${esc(r.label)} | ${ratioValue(r.value)} | ${ratioRange(r)} | ${reading(r.value, kindOf(f, r.of))} | ${r.goal ? esc(verdict(r.value, r.goal)) : ''} |`,
          );
        out.push('');
      }
      for (const g of f.goals)
        out.push(`Goal: ${esc(labelOf(f, g.of))}: ${show(f.measurements.find((m) => m.id === g.of)!, g.value)}; ${esc(verdict(g.value, g))}.`, '');
    }
    for (const n of f.notes) out.push(`- ${esc(n)}`);
    if (f.notes.length > 0) out.push('');
  }
  return out.join('\n');
}
