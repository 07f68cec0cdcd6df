/**
 * A subscription's delivery statistics, from the counters the worker keeps
 * (`P:wh:{id}:stats`), its latency samples (`P:wh:{id}:lat`) and a bounded
 * look at its newest deliveries for what is still pending. Two round trips.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { webhookKeys } from './store.js';
import { isoAt } from '../store/fields.js';

export interface WebhookStats {
  total: number;
  succeeded: number;
  failed: number;
  /** Pending or delivering, among the newest PENDING_SCAN deliveries. */
  pending: number;
  /** succeeded / (succeeded + failed); null before anything finished. */
  success_rate: number | null;
  last_success_at: string | null;
  last_failure_at: string | null;
  /** Of the last (up to) 1,000 successful attempts; null without samples. */
  latency_ms: { p50: number | null; p95: number | null };
}

/** Deliveries examined for `pending`. */
export const PENDING_SCAN = 1000;
/** Latency samples read (the worker keeps as many). */
export const LATENCY_SAMPLES = 1000;

/** Nearest-rank percentile (`p` in 0–100) of ascending `sorted`; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

function count(raw: string | undefined): number {
  const n = Number(raw ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** Renders the counters hash, latency samples and states of recent deliveries. Pure. */
export function renderStats(counters: Record<string, string>, latencies: readonly string[], states: readonly (string | null)[]): WebhookStats {
  const succeeded = count(counters.succeeded);
  const failed = count(counters.failed);
  const samples = latencies.map(Number).filter((n) => Number.isFinite(n) && n >= 0).sort((a, b) => a - b);
  return {
    total: count(counters.total),
    succeeded,
    failed,
    pending: states.filter((s) => s === 'pending' || s === 'delivering').length,
    success_rate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
    last_success_at: isoAt(counters.last_success),
    last_failure_at: isoAt(counters.last_failure),
    latency_ms: { p50: percentile(samples, 50), p95: percentile(samples, 95) },
  };
}

type Replies = [Error | null, unknown][] | null;

function at<T>(replies: Replies, i: number): T {
  const r = replies?.[i];
  if (!r) throw new Error('Redis pipeline returned no reply');
  if (r[0]) throw r[0];
  return r[1] as T;
}

/** Reads the statistics of subscription `subId` (the caller has checked its tenant). */
export async function readStats(redis: Redis, keys: Keys, subId: string): Promise<WebhookStats> {
  const wk = webhookKeys(keys.prefix);
  const first = await redis
    .pipeline()
    .hgetall(wk.stats(subId))
    .lrange(wk.latency(subId), 0, LATENCY_SAMPLES - 1)
    .zrevrange(wk.deliveries(subId), 0, PENDING_SCAN - 1)
    .exec();
  const ids = at<string[]>(first, 2);
  let states: (string | null)[] = [];
  if (ids.length > 0) {
    const p = redis.pipeline();
    for (const id of ids) p.hget(keys.delivery(id), 'state');
    const second = await p.exec();
    states = ids.map((_, i) => at<string | null>(second, i));
  }
  return renderStats(at<Record<string, string>>(first, 0), at<string[]>(first, 1), states);
}
