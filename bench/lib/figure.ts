// What a figure reports: measurements (samples of one quantity), ratios
// between two of them measured in the same runs, and goals. Every quantity is
// kept as "lower is better" (seconds per operation, or bytes); rates are only
// a way of printing seconds per operation.
import { type Summary, summarize } from './stats.js';

function spread(ratios: number[]): { value: number; min: number; max: number } {
  const s = summarize(ratios);
  return { value: s.median, min: s.min, max: s.max };
}

/** How a measurement's samples are printed: as a duration, as operations per second, or as bytes. */
export type Show = 'time' | 'rate' | 'bytes';

export interface MeasurementSpec {
  id: string;
  label: string;
  show: Show;
  /** What one operation is, for 'time' and 'rate' ("bind", "lookup", "symbol", "run"). */
  per?: string;
}

export interface Measurement extends MeasurementSpec, Summary {
  samples: number[];
}

/** A goal: the quantity (a measurement's median, or a ratio) must be at most `max`. */
export interface Goal {
  max: number;
  text: string;
}

export interface Ratio {
  label: string;
  /** dlbind's measurement and its anchor's: below 1, dlbind takes less time (or fewer bytes). */
  of: string;
  to: string;
  /**
   * 'run': both were sampled once per run, side by side, so each run gives
   * its own ratio and `value` is their median (a slow stretch of a shared
   * machine then hurts both sides of the same ratio); 'medians': the samples
   * do not pair up, and `value` is median(of) / median(to).
   */
  pairing: 'run' | 'medians';
  value: number;
  /** The smallest and largest per-run ratio ('run' pairing only). */
  min?: number;
  max?: number;
  goal?: Goal;
  met?: boolean;
}

export interface AbsoluteGoal extends Goal {
  of: string;
  value: number;
  met: boolean;
}

export interface FigureResult {
  id: number;
  title: string;
  params: Record<string, unknown>;
  measurements: Measurement[];
  ratios: Ratio[];
  goals: AbsoluteGoal[];
  notes: string[];
  /** Set when the figure could not be measured here, with the reason. */
  unavailable?: string;
}

export interface Context {
  quick: boolean;
  /** A directory shared by the figures of one run (figure 6 reads the file figure 5 wrote). */
  workDir: string;
  /** Where compiled C helpers live. */
  binDir: string;
  log(message: string): void;
}

export class Figure {
  private readonly measurements = new Map<string, Measurement>();
  private readonly ratioSpecs: { label: string; of: string; to: string; goal?: Goal }[] = [];
  private readonly goalSpecs: { of: string; goal: Goal }[] = [];
  private readonly notes: string[] = [];

  constructor(
    readonly id: number,
    readonly title: string,
    readonly params: Record<string, unknown> = {},
  ) {}

  /** Declares a measurement; samples are added with `add` as runs go. */
  measure(spec: MeasurementSpec): (sample: number) => void {
    if (this.measurements.has(spec.id)) throw new Error(`measurement ${spec.id} declared twice`);
    const m: Measurement = { ...spec, samples: [], median: NaN, min: NaN, max: NaN, runs: 0 };
    this.measurements.set(spec.id, m);
    return (sample) => {
      if (!Number.isFinite(sample)) throw new Error(`${spec.id}: sample ${sample} is not a number`);
      m.samples.push(sample);
    };
  }

  ratio(label: string, of: string, to: string, goal?: Goal): void {
    this.ratioSpecs.push({ label, of, to, goal });
  }

  goal(of: string, goal: Goal): void {
    this.goalSpecs.push({ of, goal });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  result(): FigureResult {
    const measurements = [...this.measurements.values()].filter((m) => m.samples.length > 0).map((m) => ({ ...m, ...summarize(m.samples) }));
    const byId = new Map(measurements.map((m) => [m.id, m]));
    const get = (id: string): Measurement => {
      const m = byId.get(id);
      if (m === undefined) throw new Error(`figure ${this.id}: no samples for ${id}`);
      return m;
    };
    const ratios: Ratio[] = this.ratioSpecs
      .filter((r) => byId.has(r.of) && byId.has(r.to))
      .map((r) => {
        const of = get(r.of).samples;
        const to = get(r.to).samples;
        const ratio: Ratio =
          of.length === to.length
            ? { ...r, pairing: 'run', ...spread(of.map((x, i) => x / to[i]!)) }
            : { ...r, pairing: 'medians', value: get(r.of).median / get(r.to).median };
        return r.goal === undefined ? ratio : { ...ratio, met: ratio.value <= r.goal.max };
      });
    const goals: AbsoluteGoal[] = this.goalSpecs
      .filter((g) => byId.has(g.of))
      .map((g) => {
        const value = get(g.of).median;
        return { of: g.of, ...g.goal, value, met: value <= g.goal.max };
      });
    return { id: this.id, title: this.title, params: this.params, measurements, ratios, goals, notes: this.notes };
  }

  /** A figure that cannot be measured on this machine or with this version of dlbind. */
  unavailable(reason: string): FigureResult {
    return { id: this.id, title: this.title, params: this.params, measurements: [], ratios: [], goals: [], notes: this.notes, unavailable: reason };
  }
}
