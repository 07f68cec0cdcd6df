/**
 * The producer used by the API: writes task records, then bee-queue jobs.
 * The record is written first because a worker may take the job the moment
 * it exists, and the job carries no data: the record is the task.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { QueueName } from '../config.js';
import { DependencyError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Keys } from '../store/keys.js';
import { tenantTasksKey } from '../store/task-list.js';
import { createQueue, type TaskQueue } from './queues.js';

export interface NewTask {
  task_type: string;
  queue: QueueName;
  task_data: Record<string, unknown>;
  callback_url: string | null;
  metadata: Record<string, unknown>;
  project_id: string | null;
  options: { timeout_s?: number; retries?: number; delay_s?: number };
  /** W3C traceparent of the submitting request, stored for the worker. */
  traceparent?: string;
}

export interface SubmittedTask {
  task_id: string;
  /** ISO 8601. */
  created_at: string;
}

export interface Producer {
  /** Queues every task (records first, then jobs); results are in input order. */
  submit(tenant: string, tasks: readonly NewTask[]): Promise<SubmittedTask[]>;
  /**
   * Adds the job of an existing task again (retry): same id, the task's own
   * retries/backoff, no delay. Waits (bounded) while the previous run's job is
   * still being acknowledged, since bee-queue refuses a second job with one id.
   */
  requeue(task: RequeueTask): Promise<void>;
  /** Removes a task's job when it is still waiting or delayed (cancel); a job a worker holds is left alone. */
  removeJob(queue: QueueName, taskId: string): Promise<void>;
  /** Closes the bee-queue connections; idempotent. */
  close(): Promise<void>;
}

/** What `requeue` needs from the task record (`id`, `queue`, parsed `opts`). */
export interface RequeueTask {
  id: string;
  queue: QueueName;
  options: NewTask['options'];
}

export interface ProducerOptions {
  /** Shared client for the task records. */
  redis: Redis;
  keys: Keys;
  /** bee-queue opens its own connections from this URL. */
  redisUrl: string;
  stallIntervalMs: number;
  /** Receives bee-queue connection errors. @default errors are ignored */
  logger?: Logger;
  /** Longest wait for Redis when adding jobs before giving up with 503. @default 10000 */
  saveTimeoutMs?: number;
  /** How long `close()` waits for bee-queue. @default 5000 */
  closeTimeoutMs?: number;
}

/** Delay between task-level retries: 1 s, 2 s, 4 s … */
const RETRY_BACKOFF_MS = 1000;
/** How long `requeue` waits for the previous run's job to be acknowledged. */
const REQUEUE_WAIT_MS = 5000;
const REQUEUE_POLL_MS = 25;

/** The task record hash, exactly as docs/architecture.md lists it. */
export function taskRecordFields(id: string, tenant: string, task: NewTask, createdMs: number): Record<string, string> {
  return {
    id,
    type: task.task_type,
    queue: task.queue,
    tenant,
    project: task.project_id ?? '',
    status: 'queued',
    data: JSON.stringify(task.task_data),
    meta: JSON.stringify(task.metadata),
    cb: task.callback_url ?? '',
    opts: JSON.stringify(task.options),
    created: String(createdMs),
    progress: '0',
    runs: '0',
    lost: '0',
    gen: '1',
    trace: task.traceparent ?? '',
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createProducer(opts: ProducerOptions): Producer {
  const queues = new Map<QueueName, TaskQueue>();
  const saveTimeoutMs = opts.saveTimeoutMs ?? 10_000;
  let closed = false;
  let closing: Promise<void> | null = null;

  // One queue object per name, for the life of the producer: each holds a
  // Redis connection, so making one per request would leak them.
  const queueFor = (name: QueueName): TaskQueue => {
    let q = queues.get(name);
    if (!q) {
      q = createQueue(name, { role: 'producer', redisUrl: opts.redisUrl, keys: opts.keys, stallIntervalMs: opts.stallIntervalMs });
      // Without a listener an 'error' event would crash the process.
      q.on('error', (err: Error) => opts.logger?.warn('bee-queue producer error', { queue: name, error: err.message }));
      queues.set(name, q);
    }
    return q;
  };

  const writeRecords = async (tenant: string, ids: string[], tasks: readonly NewTask[], now: number) => {
    const multi = opts.redis.multi();
    tasks.forEach((t, i) => multi.hset(opts.keys.task(ids[i] as string), taskRecordFields(ids[i] as string, tenant, t, now)));
    // The tenant's task index (GET /api/v1/tasks), written with the records.
    multi.zadd(tenantTasksKey(opts.keys.prefix, tenant), ...ids.flatMap((id) => [now, id]));
    const replies = await multi.exec();
    const failed = replies?.find(([err]) => err !== null);
    if (!replies || failed) throw new DependencyError('redis_unavailable', 'Could not write task records.', failed?.[0]);
  };

  const buildJob = (queue: TaskQueue, id: string, options: NewTask['options'], now: number | null) => {
    const job = queue.createJob({}).setId(id);
    const retries = options.retries ?? 0;
    if (retries > 0) job.retries(retries).backoff('exponential', RETRY_BACKOFF_MS);
    // `now` null: no delay (a retry runs at once).
    if (now !== null && options.delay_s) job.delayUntil(now + options.delay_s * 1000);
    return job;
  };

  /** Adds the jobs of one queue; returns the ids whose job could not be added. */
  const addJobs = async (name: QueueName, entries: { id: string; task: NewTask }[], now: number): Promise<string[]> => {
    const queue = queueFor(name);
    const jobs = entries.map(({ id, task }) => buildJob(queue, id, task.options, now));
    if (jobs.length === 1) {
      await withTimeout((jobs[0] as (typeof jobs)[number]).save(), saveTimeoutMs);
      return [];
    }
    const errors = await withTimeout(queue.saveAll(jobs), saveTimeoutMs);
    return jobs.filter((j) => errors.has(j)).map((j) => j.id);
  };

  return {
    async submit(tenant, tasks) {
      if (closed) throw new DependencyError('producer_closed', 'The producer is closed.');
      if (tasks.length === 0) return [];
      const now = Date.now();
      const ids = tasks.map(() => randomUUID());
      await writeRecords(tenant, ids, tasks, now);

      const byQueue = new Map<QueueName, { id: string; task: NewTask }[]>();
      tasks.forEach((task, i) => {
        const list = byQueue.get(task.queue) ?? [];
        list.push({ id: ids[i] as string, task });
        byQueue.set(task.queue, list);
      });
      const results = await Promise.allSettled([...byQueue].map(([name, entries]) => addJobs(name, entries, now)));
      const orphans: string[] = [];
      let cause: unknown;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') orphans.push(...r.value);
        else {
          cause = r.reason;
          orphans.push(...([...byQueue.values()][i] ?? []).map((e) => e.id));
        }
      });
      if (orphans.length > 0) {
        // A record without a job would stay "queued" forever; remove it (best effort).
        await opts.redis.del(...orphans.map((id) => opts.keys.task(id))).catch(() => undefined);
        await opts.redis.zrem(tenantTasksKey(opts.keys.prefix, tenant), ...orphans).catch(() => undefined);
        throw new DependencyError('queue_unavailable', 'Could not queue the task(s).', cause === undefined ? undefined : coerceError(cause));
      }
      const createdAt = new Date(now).toISOString();
      return ids.map((task_id) => ({ task_id, created_at: createdAt }));
    },

    async requeue(task) {
      if (closed) throw new DependencyError('producer_closed', 'The producer is closed.');
      const queue = queueFor(task.queue);
      const active = `${opts.keys.bq}:${task.queue}:active`;
      const deadline = Date.now() + REQUEUE_WAIT_MS;
      try {
        for (;;) {
          const job = await withTimeout(buildJob(queue, task.id, task.options, null).save(), saveTimeoutMs);
          // bee-queue leaves the id null when a job with this id still exists.
          if (job.id !== null) return;
          // Waiting or delayed: that job runs the new generation. Active: the
          // previous run's ack is about to delete it, so add ours after it.
          // Past the deadline an active job belongs to a dead worker and the
          // stall check hands it back, so it runs as well.
          if ((await opts.redis.lpos(active, task.id)) === null || Date.now() > deadline) return;
          await sleep(REQUEUE_POLL_MS);
        }
      } catch (err) {
        throw new DependencyError('queue_unavailable', 'Could not queue the task.', coerceError(err));
      }
    },

    async removeJob(name, taskId) {
      const active = await opts.redis.lpos(`${opts.keys.bq}:${name}:active`, taskId);
      // A worker holds it: its start script sees the cancel flag, and removing
      // the job under it would only confuse bee-queue's bookkeeping.
      if (active !== null) return;
      await queueFor(name).removeJob(taskId);
    },

    close() {
      closed = true;
      closing ??= Promise.all([...queues.values()].map((q) => q.close(opts.closeTimeoutMs ?? 5000).catch(() => undefined))).then(
        () => undefined,
      );
      return closing;
    },
  };
}
