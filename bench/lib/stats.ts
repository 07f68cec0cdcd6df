/** Percentiles and run aggregates: pure functions over plain numbers. */

/** The p-th percentile (0–100) of ascending `sorted`, nearest-rank. NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? (s[s.length - 1] as number) : Number.NaN };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** One figure over several runs: the median and the spread. */
export interface Aggregate {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function aggregate(runs: readonly number[]): Aggregate {
  // Infinity is a result ("never arrived"); NaN means "not measured".
  const ok = runs.filter((x) => !Number.isNaN(x));
  if (ok.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...runs] };
  // With an even count, the mean of the middle two is the usual median.
  const s = [...ok].sort((a, b) => a - b);
  const mid = s.length / 2;
  const med = s.length % 2 === 1 ? (s[Math.floor(mid)] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median: med, min: s[0] as number, max: s[s.length - 1] as number, runs: [...runs] };
}

/** Rounds for display: 3 significant digits below 100, integers above. */
export function fmt(x: number, digits = 1): string {
  if (x === Number.POSITIVE_INFINITY) return '∞';
  if (!Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
}

export function fmtAgg(a: Aggregate, digits = 1): string {
  if (a.runs.length <= 1) return fmt(a.median, digits);
  return `${fmt(a.median, digits)} (${fmt(a.min, digits)}–${fmt(a.max, digits)})`;
}
