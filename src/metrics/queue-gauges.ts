/**
 * The cluster-wide gauges (jobs per queue and state, oldest waiting age,
 * pending callbacks) are read from Redis by ONE process: whoever holds a
 * short lock, renewed on each scrape. Every replica reporting the same
 * cluster totals would make sums in dashboards wrong.
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../config.js';
import type { Keys } from '../store/keys.js';
import type { Metrics } from './metrics.js';

const LOCK_MS = 30_000;

export function queueGaugeCollector(redis: Redis, keys: Keys, owner: string): (m: Metrics) => Promise<boolean> {
  const lockKey = `${keys.prefix}:lock:gauges`;
  return async (m) => {
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
    if (held !== 1) return false;
    const pipe = redis.pipeline();
    for (const q of QUEUE_NAMES) {
      const base = `${keys.bq}:${q}`;
      pipe.llen(`${base}:waiting`).llen(`${base}:active`).zcard(`${base}:delayed`).scard(`${base}:failed`).lindex(`${base}:waiting`, -1);
    }
    pipe.zcard(keys.due);
    const rows = (await pipe.exec()) ?? [];
    const value = (i: number): unknown => rows[i]?.[1];
    const oldestIds: [string, string][] = [];
    QUEUE_NAMES.forEach((q, i) => {
      const b = i * 5;
      m.queueJobs.set({ queue: q, state: 'waiting' }, Number(value(b) ?? 0));
      m.queueJobs.set({ queue: q, state: 'active' }, Number(value(b + 1) ?? 0));
      m.queueJobs.set({ queue: q, state: 'delayed' }, Number(value(b + 2) ?? 0));
      m.queueJobs.set({ queue: q, state: 'failed' }, Number(value(b + 3) ?? 0));
      const oldest = value(b + 4);
      if (typeof oldest === 'string') oldestIds.push([q, oldest]);
      else m.oldestWaiting.set({ queue: q }, 0);
    });
    m.callbacksPending.set(Number(value(QUEUE_NAMES.length * 5) ?? 0));
    if (oldestIds.length > 0) {
      const created = await Promise.all(oldestIds.map(([, id]) => redis.hget(keys.task(id), 'created')));
      const now = Date.now();
      oldestIds.forEach(([q], i) => m.oldestWaiting.set({ queue: q }, created[i] ? Math.max(0, (now - Number(created[i])) / 1000) : 0));
    }
    return true;
  };
}
