/**
 * The producer used by the API: writes each task's record, its index entry
 * and its bee-queue job in one Lua script. The job carries no data (the record
 * is the task), and a worker that takes it at once always finds the record.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { QueueName } from '../config.js';
import { DependencyError, IdempotencyInFlightError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Keys } from '../store/keys.js';
import { tenantTasksKey } from '../store/task-list.js';
import { createQueue, type TaskQueue } from './queues.js';
import { callScript, defineScript } from '../store/scripts.js';
import { TIMED_OUT, within } from '../within.js';
import { tickBatcher } from '../store/tick-batch.js';

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

/** An `Idempotency-Key` claim the submit completes in the same step as it queues (see src/api/idempotency.ts). */
export interface IdempotentSubmit {
  /** The claim's Redis key and token. */
  key: string;
  token: string;
  /** How long the stored answer is replayed. */
  ttlMs: number;
  /** The answer the route will give for these tasks (ids are known before they are queued). */
  answer(queued: readonly SubmittedTask[]): { status: number; body: string; location: string };
}

export interface Producer {
  /**
   * Queues every task (records first, then jobs); results are in input order.
   * With `idempotency`, the claim's answer is stored by the same script, and
   * nothing is queued (IdempotencyInFlightError) once the claim is no longer its own.
   */
  submit(tenant: string, tasks: readonly NewTask[], idempotency?: IdempotentSubmit): Promise<SubmittedTask[]>;
  /**
   * Runs a failed or cancelled task again under the same id: a new outcome
   * generation and its job (the task's own retries/backoff, no delay), in one
   * step. Waits (bounded) while the previous run's job is still being
   * acknowledged. Returns the new generation, or the status that forbids it.
   */
  retry(task: RequeueTask): Promise<{ gen: number } | { status: string }>;
  /** Removes a task's job when it is still waiting or delayed (cancel); a job a worker holds is left alone. */
  removeJob(queue: QueueName, taskId: string): Promise<void>;
  /** Closes the bee-queue connections; idempotent. */
  close(): Promise<void>;
}

/** What `retry` needs from the task record (`id`, `queue`, parsed `opts`). */
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
/** How long `retry` waits for the previous run's job to be acknowledged. */
const REQUEUE_WAIT_MS = 5000;
const REQUEUE_POLL_MS = 25;

/**
 * The task record's fields in the order submit.lua receives their values:
 * the names go to Redis once per script call, not once per task.
 */
const RECORD_FIELDS = ['id', 'type', 'queue', 'tenant', 'project', 'status', 'data', 'meta', 'cb', 'opts', 'created', 'queued', 'progress', 'runs', 'lost', 'gen', 'trace'] as const;

/** The task record hash, exactly as docs/architecture.md lists it. */
export function taskRecordFields(id: string, tenant: string, task: NewTask, createdMs: number): Record<(typeof RECORD_FIELDS)[number], string> {
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
    // When it joins the line to run: the queue-wait metrics count from here (retry.lua sets it again).
    queued: String(createdMs + (task.options.delay_s ?? 0) * 1000),
    progress: '0',
    runs: '0',
    lost: '0',
    gen: '1',
    trace: task.traceparent ?? '',
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  const r = await within(promise, ms);
  if (r === TIMED_OUT) throw new Error(`timed out after ${ms} ms`);
  return r;
}

export function createProducer(opts: ProducerOptions): Producer {
  const queues = new Map<QueueName, TaskQueue>();
  defineScript(opts.redis, new URL('./lua/', import.meta.url), 'submit', 0);
  defineScript(opts.redis, new URL('./lua/', import.meta.url), 'retry', 4);
  const saveTimeoutMs = opts.saveTimeoutMs ?? 10_000;
  // Every submit of one event-loop turn in one script call (see tick-batch.ts);
  // each request is a list of script arguments (see submit.lua).
  const submitHead: (string | number)[] = [opts.keys.task(''), `${opts.keys.bq}:`, RECORD_FIELDS.length, ...RECORD_FIELDS];
  // One deadline per batch: a timer per request cost every submit a timer and two promises.
  const sendSubmits = tickBatcher<{ args: (string | number)[]; tasks: number }, number>(
    (requests) => {
      const args = submitHead.slice();
      args.push(requests.length);
      for (const r of requests) for (const a of r.args) args.push(a);
      return withTimeout(callScript<number[]>(opts.redis, 'submit', [], args), saveTimeoutMs);
    },
    { weight: (r) => r.tasks, maxWeight: 256 },
  );
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

  const buildJob = (queue: TaskQueue, id: string, options: NewTask['options'], now: number | null) => {
    const job = queue.createJob({}).setId(id);
    const retries = options.retries ?? 0;
    if (retries > 0) job.retries(retries).backoff('exponential', RETRY_BACKOFF_MS);
    // `now` null: no delay (a retry runs at once).
    if (now !== null && options.delay_s) job.delayUntil(now + options.delay_s * 1000);
    return job;
  };

  return {
    async submit(tenant, tasks, idempotency) {
      if (closed) throw new DependencyError('producer_closed', 'The producer is closed.');
      if (tasks.length === 0) return [];
      const now = Date.now();
      const ids = tasks.map(() => randomUUID());
      const createdAt = new Date(now).toISOString();
      const queued = ids.map((task_id) => ({ task_id, created_at: createdAt }));
      // Records, index entries and jobs in one script: all of a task or none.
      const args: (string | number)[] = [tenantTasksKey(opts.keys.prefix, tenant), now, tasks.length, idempotency ? '1' : '0'];
      if (idempotency) {
        const a = idempotency.answer(queued);
        args.push(idempotency.key, idempotency.token, a.status, a.body, a.location, idempotency.ttlMs);
      }
      tasks.forEach((task, i) => {
        const id = ids[i] as string;
        const job = buildJob(queueFor(task.queue), id, task.options, now);
        const delay = (job.options as { delay?: number }).delay;
        const record = taskRecordFields(id, tenant, task, now);
        // bee-queue's own serialisation (Job#toData is public in its JS, missing from its typings).
        args.push(id, task.queue, (job as unknown as { toData(): string }).toData(), delay ? String(delay) : '');
        for (const f of RECORD_FIELDS) args.push(record[f]);
      });
      let written: number;
      try {
        written = await sendSubmits({ args, tasks: tasks.length });
      } catch (err) {
        throw new DependencyError('queue_unavailable', 'Could not queue the task(s).', coerceError(err));
      }
      // submit.lua queued nothing: the claim's lock ran out before the script ran.
      if (written < 0) throw new IdempotencyInFlightError();
      return queued;
    },

    async retry(task) {
      if (closed) throw new DependencyError('producer_closed', 'The producer is closed.');
      const bq = `${opts.keys.bq}:${task.queue}`;
      const job = (buildJob(queueFor(task.queue), task.id, task.options, null) as unknown as { toData(): string }).toData();
      const deadline = Date.now() + REQUEUE_WAIT_MS;
      let r: string;
      try {
        for (;;) {
          r = await withTimeout(
            callScript<string>(opts.redis, 'retry', [opts.keys.task(task.id), `${bq}:jobs`, `${bq}:waiting`, `${bq}:active`], [task.id, job, Date.now()]),
            saveTimeoutMs,
          );
          if (r !== 'busy') break;
          // An active job past the deadline belongs to a dead worker: it stays busy until the stall check.
          if (Date.now() > deadline) {
            throw new DependencyError('queue_busy', 'The previous run of this task is still being acknowledged; try again.');
          }
          await sleep(REQUEUE_POLL_MS);
        }
      } catch (err) {
        if (err instanceof DependencyError) throw err;
        throw new DependencyError('queue_unavailable', 'Could not queue the task.', coerceError(err));
      }
      return /^\d+$/.test(r) ? { gen: Number(r) } : { status: r };
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
