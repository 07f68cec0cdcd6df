/**
 * The cluster-wide gauges (jobs per queue and state, oldest waiting age,
 * pending callbacks) are read from Redis by ONE process: whoever holds a
 * short lock, renewed on each scrape. Every replica reporting the same
 * cluster totals would make sums in dashboards wrong.
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../config.js';
import { DependencyError } from '../errors.js';
import type { Keys } from '../store/keys.js';
import type { QueueGauges } from './metrics.js';
import { queuedAt } from '../store/fields.js';
import { redisConnectionLost } from '../runtime/redis.js';

const LOCK_MS = 30_000;
const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Seconds since a task record last joined its queue (see queuedAt); 0 when that does not read. */
export function waitedSeconds(queued: string | null | undefined, created: string | null | undefined, now: number): number {
  const at = queuedAt(queued, created);
  return at === null ? 0 : Math.max(0, (now - at) / 1000);
}

export function queueGaugeCollector(redis: Redis, keys: Keys, owner: string): () => Promise<QueueGauges | null> {
  const lockKey = `${keys.prefix}:lock:gauges`;
  return async () => {
    // The shared client's commands wait for a reconnect: issued while the
    // connection is lost, they would sit in its offline queue until Redis is
    // back. (A scrape stops waiting after a time anyway, see metrics.ts.)
    if (redisConnectionLost(redis)) throw new DependencyError('redis_unavailable', `Redis is not connected (${redis.status}).`);
    // Take the lock, or keep it if it is ours (one round trip either way).
    const held = (await redis.eval(
      `local v = redis.call("get", KEYS[1])
       if v == false or v == ARGV[1] then redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2]) return 1 end
       return 0`,
      1,
      lockKey,
      owner,
      LOCK_MS,
    )) as number;
    if (held !== 1) return null;
    const pipe = redis.pipeline();
    for (const q of QUEUE_NAMES) {
      const base = `${keys.bq}:${q}`;
      pipe.llen(`${base}:waiting`).llen(`${base}:active`).zcard(`${base}:delayed`).scard(`${base}:failed`).lindex(`${base}:waiting`, -1);
    }
    pipe.zcard(keys.due);
    const rows = (await pipe.exec()) ?? [];
    const value = (i: number): unknown => rows[i]?.[1];
    const gauges: QueueGauges = { jobs: [], oldestWaitingS: [], callbacksPending: Number(value(QUEUE_NAMES.length * 5) ?? 0) };
    const next: [string, string][] = [];
    QUEUE_NAMES.forEach((queue, i) => {
      STATES.forEach((state, s) => gauges.jobs.push({ queue, state, count: Number(value(i * 5 + s) ?? 0) }));
      // bee-queue pops from the right: the tail is the job next in line.
      const id = value(i * 5 + 4);
      if (typeof id === 'string') next.push([queue, id]);
      else gauges.oldestWaitingS.push({ queue, seconds: 0 });
    });
    const times = await Promise.all(next.map(([, id]) => redis.hmget(keys.task(id), 'queued', 'created')));
    const now = Date.now();
    next.forEach(([queue], i) => gauges.oldestWaitingS.push({ queue, seconds: waitedSeconds(times[i]?.[0], times[i]?.[1], now) }));
    return gauges;
  };
}
