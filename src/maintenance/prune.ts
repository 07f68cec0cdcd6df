/**
 * Retention: deletes finished task records (with their callback deliveries)
 * and settled delivery records once they are older than the configured
 * number of days. Everything walks in small batches (SCAN, ranged reads, one
 * bounded Lua script per batch), so Redis is never blocked for long, and a
 * Redis lock keeps the work to one process at a time.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { tenantTasksKey } from '../store/task-list.js';
import { callScript, defineScript } from '../store/scripts.js';

export interface PruneOptions {
  /** Records older than this (ms before `now`) are deleted. */
  olderThanMs: number;
  /** "Now", epoch ms. @default Date.now() */
  now?: number;
  /** Keys per SCAN step and ids per script call. @default 500 */
  batch?: number;
  /** Stops between batches once aborted (process shutdown). */
  signal?: AbortSignal;
}

const DAY_MS = 86_400_000;
const DEFAULT_BATCH = 500;
/** The lock's lease: longer than a run should take, short enough to recover from a crashed pruner. */
export const PRUNE_LOCK_MS = 600_000;

function load(redis: Redis): void {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'prune_tasks', 1);
  defineScript(redis, lua, 'prune_deliveries', 0);
  defineScript(redis, lua, 'prune_unlock', 1);
}

/** A key prefix as a literal SCAN pattern (the prefix is configuration and may hold glob characters). */
function globLiteral(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** Every key matching `pattern` of `type`, `batch` per SCAN step. */
async function* scanKeys(redis: Redis, pattern: string, type: string, batch: number, signal?: AbortSignal): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    if (signal?.aborted) return;
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', batch, 'TYPE', type);
    cursor = next;
    if (found.length > 0) yield found;
  } while (cursor !== '0');
}

/**
 * Runs `script` over the members of a sorted set scored below `cutoff`,
 * oldest first, `batch` at a time. Deleted members leave the set, so the
 * offset only moves past the members the script kept.
 */
async function sweepSet(
  redis: Redis,
  key: string,
  cutoff: number,
  batch: number,
  signal: AbortSignal | undefined,
  call: (ids: string[]) => Promise<[number, number]>,
): Promise<number> {
  let offset = 0;
  let deleted = 0;
  for (;;) {
    if (signal?.aborted) return deleted;
    const ids = await redis.zrangebyscore(key, '-inf', `(${cutoff}`, 'LIMIT', offset, batch);
    if (ids.length === 0) return deleted;
    const [n, removed] = await call(ids);
    deleted += n;
    offset += ids.length - removed;
    if (ids.length < batch) return deleted;
  }
}

/**
 * Deletes finished tasks (completed, failed, cancelled) that finished before
 * `now - olderThanMs`, with their callback deliveries and index entries.
 * Tenants are found by SCAN over `P:tasks:t:*`. Returns how many were deleted.
 */
export async function pruneTasks(redis: Redis, keys: Keys, opts: PruneOptions): Promise<number> {
  load(redis);
  const cutoff = (opts.now ?? Date.now()) - opts.olderThanMs;
  const batch = opts.batch ?? DEFAULT_BATCH;
  const pattern = globLiteral(tenantTasksKey(keys.prefix, '')) + '*';
  let deleted = 0;
  for await (const indexes of scanKeys(redis, pattern, 'zset', batch, opts.signal)) {
    for (const index of indexes) {
      deleted += await sweepSet(redis, index, cutoff, batch, opts.signal, (ids) =>
        callScript<[number, number]>(redis, 'prune_tasks', [index], [keys.task(''), keys.deliveryPrefix, cutoff, ...ids]),
      );
    }
  }
  return deleted;
}

/**
 * Deletes settled deliveries (delivered, failed, dropped) whose last
 * activity is before `now - olderThanMs`, and removes them from the due set,
 * their subscription's log (`P:wh:{sub}:dlv`) and the dead letters
 * (`P:dlv:dead:{tenant}`). Subscription stats are not touched. Walks the
 * logs and dead-letter sets (which also drops entries whose record is
 * gone), then SCANs `P:dlv:*` for the rest (task callbacks are in no set).
 */
export async function pruneDeliveries(redis: Redis, keys: Keys, opts: PruneOptions): Promise<number> {
  load(redis);
  const cutoff = (opts.now ?? Date.now()) - opts.olderThanMs;
  const batch = opts.batch ?? DEFAULT_BATCH;
  const prune = (index: string) => (ids: string[]) =>
    callScript<[number, number]>(redis, 'prune_deliveries', [], [keys.deliveryPrefix, keys.webhookPrefix, cutoff, index, ...ids]);
  let deleted = 0;

  const logs = `${globLiteral(keys.webhookPrefix)}*:dlv`;
  const dead = `${globLiteral(keys.dead(''))}*`;
  for (const pattern of [logs, dead]) {
    for await (const sets of scanKeys(redis, pattern, 'zset', batch, opts.signal)) {
      for (const set of sets) deleted += await sweepSet(redis, set, cutoff, batch, opts.signal, prune(set));
    }
  }

  const prefix = keys.deliveryPrefix;
  for await (const found of scanKeys(redis, `${globLiteral(prefix)}*`, 'hash', batch, opts.signal)) {
    // Delivery hashes only (attempt lists are lists, the due and dead sets are zsets).
    const ids = found.map((k) => k.slice(prefix.length));
    const [n] = await prune('')(ids);
    deleted += n;
  }
  return deleted;
}

export interface RetentionOptions {
  /** `TASK_RETENTION_DAYS` in ms. */
  taskRetentionMs: number;
  /** `DELIVERY_RETENTION_DAYS` in ms. */
  deliveryRetentionMs: number;
  now?: number;
  batch?: number;
  signal?: AbortSignal;
  /** @default PRUNE_LOCK_MS */
  lockMs?: number;
}

export type PruneRun = { ran: false } | { ran: true; tasks: number; deliveries: number };

/** The retention settings of a config, in ms. */
export function retentionFromConfig(config: { TASK_RETENTION_DAYS: number; DELIVERY_RETENTION_DAYS: number }): Pick<
  RetentionOptions,
  'taskRetentionMs' | 'deliveryRetentionMs'
> {
  return { taskRetentionMs: config.TASK_RETENTION_DAYS * DAY_MS, deliveryRetentionMs: config.DELIVERY_RETENTION_DAYS * DAY_MS };
}

/**
 * One retention run under the lock `P:lock:prune` (SET NX PX): when another
 * process holds it, returns `{ ran: false }` at once.
 */
export async function runRetention(redis: Redis, keys: Keys, opts: RetentionOptions): Promise<PruneRun> {
  load(redis);
  const lock = `${keys.prefix}:lock:prune`;
  const token = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const got = await redis.set(lock, token, 'PX', opts.lockMs ?? PRUNE_LOCK_MS, 'NX');
  if (got !== 'OK') return { ran: false };
  try {
    const common = { now: opts.now, batch: opts.batch, signal: opts.signal };
    const tasks = await pruneTasks(redis, keys, { ...common, olderThanMs: opts.taskRetentionMs });
    const deliveries = await pruneDeliveries(redis, keys, { ...common, olderThanMs: opts.deliveryRetentionMs });
    return { ran: true, tasks, deliveries };
  } finally {
    await callScript(redis, 'prune_unlock', [lock], [token]).catch(() => undefined);
  }
}
