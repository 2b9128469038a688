// Summaries shared by the benchmarks: median (min–max, p95) of samples that may be missing, and the
// ours/keepalived ratio of two medians. Printing only; nothing here asserts.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** 95th percentile (nearest rank). */
  p95: number;
  n: number;
}

/** The q-quantile (0..1) of sorted values, nearest rank (the smallest value with ≥ q of the samples at or below it). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Median, min, max over the samples that were measured (null: not measured in that run). */
export function stats(xs: (number | null)[]): Summary | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, p95: quantile(v, 0.95), n: v.length };
}

/** "median (min–max)", rounded to `digits` decimals (whole ms by default). */
export function fmt(s: Summary | null, digits = 0): string {
  if (!s) return 'n/a';
  const r = (x: number) => x.toFixed(digits);
  return s.min === s.max ? r(s.median) : `${r(s.median)} (${r(s.min)}–${r(s.max)})`;
}

/** ours.median / keepalived.median, or n/a. */
export function ratio(a: Summary | null, b: Summary | null): string {
  return a && b && b.median > 0 ? (a.median / b.median).toFixed(2) : 'n/a';
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Differences of consecutive times (ms): the send intervals of a periodic stream. */
export function intervals(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push(times[i]! - times[i - 1]!);
  return out;
}

/** p50 / p99 / max of the intervals, and p99 / max of their deviation from `nominalMs` (the jitter). */
export interface IntervalSummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  jitterP99: number;
  jitterMax: number;
}

export function intervalSummary(xs: readonly number[], nominalMs: number): IntervalSummary | null {
  if (xs.length === 0) return null;
  const v = [...xs].sort((a, b) => a - b);
  const dev = xs.map((x) => Math.abs(x - nominalMs)).sort((a, b) => a - b);
  return { n: v.length, p50: quantile(v, 0.5), p99: quantile(v, 0.99), max: v[v.length - 1]!, jitterP99: quantile(dev, 0.99), jitterMax: dev[dev.length - 1]! };
}

/** Counts per bin of `binMs` from 0 to `maxMs` (each bin keyed by its lower edge); values ≥ maxMs go to the last bin. */
export function histogram(xs: readonly number[], binMs: number, maxMs: number): { from: number; count: number }[] {
  const n = Math.max(1, Math.ceil(maxMs / binMs));
  const counts = new Array<number>(n).fill(0);
  for (const x of xs) counts[Math.min(n - 1, Math.max(0, Math.floor(x / binMs)))]!++;
  return counts.map((count, i) => ({ from: Number((i * binMs).toFixed(6)), count }));
}
