// Medians, extremes and the ratios between them, and the figures' number formats.

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), runs: samples.length };
}

/** Seconds since an arbitrary origin, to the nanosecond. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Runs `fn` and returns the seconds it took. */
export function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Collects garbage when node runs with --expose-gc (the runner passes it), so one run's garbage is not the next run's cost. */
export function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A deterministic shuffle (mulberry32), so that every object is probed in the same order. */
export function shuffled<T>(xs: readonly T[], seed = 0x5eed): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const group = (n: number, digits: number): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** 1,234,567 / 12.3 / 0.0123: three significant digits for small numbers, grouped thousands for big ones. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return group(Math.round(n), 0);
  if (a >= 100) return group(n, 0);
  if (a >= 10) return group(n, 1);
  if (a >= 1) return group(n, 2);
  if (a === 0) return '0';
  return n.toPrecision(3);
}

/** Seconds as ns, µs, ms or s. */
export function duration(seconds: number): string {
  const a = Math.abs(seconds);
  if (a < 1e-6) return `${num(seconds * 1e9)} ns`;
  if (a < 1e-3) return `${num(seconds * 1e6)} µs`;
  if (a < 1) return `${num(seconds * 1e3)} ms`;
  return `${num(seconds)} s`;
}

export function bytes(n: number): string {
  const a = Math.abs(n);
  if (a < 1024) return `${num(n)} B`;
  if (a < 1024 ** 2) return `${num(n / 1024)} KiB`;
  if (a < 1024 ** 3) return `${num(n / 1024 ** 2)} MiB`;
  return `${num(n / 1024 ** 3)} GiB`;
}
