/**
 * The dashboard's time series, from the per-minute statistics hashes
 * `P:stats:{epoch minute}` that the finish and record scripts keep (two
 * hours): outcomes per queue, a run-time histogram per task type, and
 * delivery attempts by outcome. Reading is one pipeline; the rest is pure.
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../config.js';

/** Minutes shown by every sparkline and chart. */
export const STATS_MINUTES = 60;
/** Upper bounds (ms) of the run-time buckets `type:{task_type}:le{ms}`; a last `leinf` bucket holds the rest. */
export const RUN_TIME_BOUNDS = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000] as const;
const CALLBACK_OUTCOMES = ['delivered', 'retry', 'failed', 'blocked'] as const;

export interface StatsSeries {
  /** Epoch seconds of the start of each minute, oldest first (uPlot's x values). */
  minutes: number[];
  /** Tasks completed and failed per minute, per queue. */
  queues: Record<string, { completed: number[]; failed: number[] }>;
  /** Completed and failed per minute, every queue together. */
  throughput: { completed: number[]; failed: number[] };
  /** Estimated p95 run time (ms) per task type and minute; null in minutes where none of that type finished. */
  p95: Record<string, (number | null)[]>;
  /** Delivered attempts / all attempts per minute (0–1); null in minutes without attempts. */
  callbackSuccess: (number | null)[];
  /** Delivery attempts per minute. */
  callbackAttempts: number[];
  /** Completed per queue over about the last 60 s (this minute plus the elapsed share of the previous one). */
  ratePerMin: Record<string, number>;
}

const num = (raw: string | undefined): number => {
  const n = Number(raw ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

/**
 * The 95th percentile of one histogram (count per bucket, `inf` last), by
 * linear interpolation inside the bucket that holds it, as Prometheus'
 * `histogram_quantile` does; the open last bucket answers its lower bound.
 */
export function p95FromBuckets(counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = 0.95 * total;
  let below = 0;
  for (let i = 0; i < counts.length; i += 1) {
    const c = counts[i] ?? 0;
    if (c > 0 && below + c >= rank) {
      const upper = RUN_TIME_BOUNDS[i];
      const lower = i === 0 ? 0 : (RUN_TIME_BOUNDS[i - 1] ?? 0);
      if (upper === undefined) return lower;
      return Math.round(lower + ((upper - lower) * (rank - below)) / c);
    }
    below += c;
  }
  return RUN_TIME_BOUNDS[RUN_TIME_BOUNDS.length - 1] ?? null;
}

/** Task types that appear in any of the hashes (`type:{task_type}:n`). */
function taskTypes(hashes: readonly Record<string, string>[]): string[] {
  const types = new Set<string>();
  for (const h of hashes) {
    for (const field of Object.keys(h)) {
      const m = /^type:(.+):n$/.exec(field);
      if (m?.[1]) types.add(m[1]);
    }
  }
  return [...types].sort();
}

/**
 * Pure: the series from `hashes[i]` = the stats hash of minute
 * `firstMinute + i` (empty when missing). `now` (epoch ms) weighs the
 * previous minute in `ratePerMin`.
 */
export function summarizeStats(firstMinute: number, hashes: readonly Record<string, string>[], now: number): StatsSeries {
  const minutes = hashes.map((_, i) => (firstMinute + i) * 60);
  const queues: StatsSeries['queues'] = {};
  for (const q of QUEUE_NAMES) {
    queues[q] = { completed: hashes.map((h) => num(h[`${q}:completed`])), failed: hashes.map((h) => num(h[`${q}:failed`])) };
  }
  const sum = (field: 'completed' | 'failed') => hashes.map((_, i) => QUEUE_NAMES.reduce((n, q) => n + (queues[q]?.[field][i] ?? 0), 0));
  const p95: StatsSeries['p95'] = {};
  for (const type of taskTypes(hashes)) {
    p95[type] = hashes.map((h) => p95FromBuckets([...RUN_TIME_BOUNDS.map((b) => num(h[`type:${type}:le${b}`])), num(h[`type:${type}:leinf`])]));
  }
  const callbackAttempts = hashes.map((h) => CALLBACK_OUTCOMES.reduce((n, o) => n + num(h[`cb:${o}`]), 0));
  const callbackSuccess = hashes.map((h, i) => {
    const all = callbackAttempts[i] ?? 0;
    return all === 0 ? null : num(h['cb:delivered']) / all;
  });
  const elapsed = Math.min(1, Math.max(0, (now % 60_000) / 60_000));
  const ratePerMin: Record<string, number> = {};
  for (const q of QUEUE_NAMES) {
    const c = queues[q]?.completed ?? [];
    ratePerMin[q] = Math.round((c[c.length - 1] ?? 0) + (c[c.length - 2] ?? 0) * (1 - elapsed));
  }
  return { minutes, queues, throughput: { completed: sum('completed'), failed: sum('failed') }, p95, callbackSuccess, callbackAttempts, ratePerMin };
}

/** Reads the last STATS_MINUTES stats hashes (the current minute last) in one pipeline. */
export async function readStats(redis: Redis, prefix: string, now = Date.now()): Promise<StatsSeries> {
  const last = Math.floor(now / 60_000);
  const first = last - STATS_MINUTES + 1;
  const p = redis.pipeline();
  for (let m = first; m <= last; m += 1) p.hgetall(`${prefix}:stats:${m}`);
  const replies = (await p.exec()) ?? [];
  const hashes = replies.map(([err, h]) => {
    if (err) throw err;
    return (h ?? {}) as Record<string, string>;
  });
  return summarizeStats(first, hashes, now);
}
