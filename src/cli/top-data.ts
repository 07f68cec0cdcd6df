/**
 * What `taskhook top` shows, read straight from Redis (no API needed): per
 * queue the bee-queue lists, per worker process its heartbeat
 * (`P:workers:{host}:{pid}`, written by src/runtime/worker-process.ts), and
 * the callback outbox.
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../config.js';
import type { Keys } from '../store/keys.js';
import { queuedAt } from '../store/fields.js';

export interface QueueRow {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  /** How long the job next in line (the tail of the waiting list) has been queued, ms; null when none waits. */
  oldestWaitingMs: number | null;
  /** Tasks settled in about the last minute by live workers; null when no live worker serves the queue. */
  perMinute: number | null;
  /** Worker slots (concurrency) of the live workers serving this queue. */
  slots: number;
}

export interface WorkerRow {
  /** `{host}:{pid}`. */
  id: string;
  queues: string[];
  /** Jobs at once per queue. */
  concurrency: number;
  /** Tasks running in the process now. */
  busy: number;
  started: number;
  heartbeat: number;
  /** Tasks settled since start, per queue. */
  done: Record<string, number>;
  /** Tasks settled in about the last minute, per queue. */
  rate: Record<string, number>;
  /** The runs in progress at the last heartbeat (the `tasks` field; absent from older workers). */
  tasks?: RunningTaskRow[];
}

/** One run in progress, as the worker's heartbeat lists it. */
export interface RunningTaskRow {
  task_id: string;
  task_type: string;
  queue: string;
  /** Epoch ms when the run started. */
  started: number;
}

export interface TopSnapshot {
  at: number;
  queues: QueueRow[];
  workers: WorkerRow[];
  callbacks: {
    /** Deliveries in the due set (waiting for an attempt, a retry, or in flight). */
    pending: number;
    /** Of the sampled ones: pending after at least one failed attempt. */
    failing: number;
    /** How many due deliveries were inspected for `failing` (the soonest due). */
    sampled: number;
  };
}

/** Bounds on the work one refresh may do, so `top` stays cheap on a big Redis. */
export const FAILING_SAMPLE = 500;
const MAX_WORKER_KEYS = 1000;

export async function readTop(redis: Redis, keys: Keys, now = Date.now()): Promise<TopSnapshot> {
  const workers = await readWorkers(redis, keys);
  const queues = await Promise.all(QUEUE_NAMES.map((q) => readQueue(redis, keys, q, workers, now)));
  return { at: now, queues, workers, callbacks: await readCallbacks(redis, keys) };
}

async function readQueue(redis: Redis, keys: Keys, queue: string, workers: WorkerRow[], now: number): Promise<QueueRow> {
  const base = `${keys.bq}:${queue}`;
  const r = await redis
    .multi()
    .llen(`${base}:waiting`)
    .llen(`${base}:active`)
    .zcard(`${base}:delayed`)
    .scard(`${base}:failed`)
    // bee-queue pushes on the left and pops from the right: the tail is next in line.
    .lindex(`${base}:waiting`, -1)
    .exec();
  const val = (i: number): unknown => r?.[i]?.[1];
  let oldestWaitingMs: number | null = null;
  const nextId = val(4);
  if (typeof nextId === 'string') {
    const [queued, created] = await redis.hmget(keys.task(nextId), 'queued', 'created');
    const at = queuedAt(queued, created);
    if (at !== null) oldestWaitingMs = Math.max(0, now - at);
  }
  const serving = workers.filter((w) => w.queues.includes(queue));
  return {
    queue,
    waiting: Number(val(0) ?? 0),
    active: Number(val(1) ?? 0),
    delayed: Number(val(2) ?? 0),
    failed: Number(val(3) ?? 0),
    oldestWaitingMs,
    perMinute: serving.length === 0 ? null : serving.reduce((n, w) => n + (w.rate[queue] ?? 0), 0),
    slots: serving.reduce((n, w) => n + w.concurrency, 0),
  };
}

async function readWorkers(redis: Redis, keys: Keys): Promise<WorkerRow[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keys.workersPrefix}*`, 'COUNT', 200);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0' && found.length < MAX_WORKER_KEYS);
  const pipe = redis.pipeline();
  for (const k of found) pipe.hgetall(k);
  const hashes = found.length === 0 ? [] : ((await pipe.exec()) ?? []);
  const rows: WorkerRow[] = [];
  hashes.forEach(([, h], i) => {
    const f = (h ?? {}) as Record<string, string>;
    // A key that expired between SCAN and HGETALL reads as empty.
    if (f.heartbeat === undefined) return;
    rows.push({
      id: (found[i] ?? '').slice(keys.workersPrefix.length),
      queues: (f.queues ?? '').split(',').filter((q) => q.length > 0),
      concurrency: Number(f.concurrency ?? 0),
      busy: Number(f.busy ?? 0),
      started: Number(f.started ?? 0),
      heartbeat: Number(f.heartbeat),
      done: counts(f.done),
      rate: counts(f.rate),
      tasks: runningTasks(f.tasks),
    });
  });
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

function counts(raw: string | undefined): Record<string, number> {
  try {
    const parsed: unknown = JSON.parse(raw ?? '{}');
    if (parsed === null || typeof parsed !== 'object') return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === 'number'));
  } catch {
    return {};
  }
}

function runningTasks(raw: string | undefined): RunningTaskRow[] {
  try {
    const parsed: unknown = JSON.parse(raw ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((t: unknown): RunningTaskRow[] => {
      if (t === null || typeof t !== 'object') return [];
      const o = t as Record<string, unknown>;
      if (typeof o.task_id !== 'string' || typeof o.started !== 'number') return [];
      return [{ task_id: o.task_id, task_type: String(o.task_type ?? ''), queue: String(o.queue ?? ''), started: o.started }];
    });
  } catch {
    return [];
  }
}

async function readCallbacks(redis: Redis, keys: Keys): Promise<TopSnapshot['callbacks']> {
  const [pending, ids] = await Promise.all([redis.zcard(keys.due), redis.zrange(keys.due, 0, FAILING_SAMPLE - 1)]);
  if (ids.length === 0) return { pending, failing: 0, sampled: 0 };
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hmget(keys.delivery(id), 'state', 'n');
  const rows = (await pipe.exec()) ?? [];
  const failing = rows.filter(([, v]) => {
    const [state, n] = (v ?? []) as (string | null)[];
    return state === 'pending' && Number(n ?? 0) > 0;
  }).length;
  return { pending, failing, sampled: ids.length };
}
