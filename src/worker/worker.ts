/**
 * The worker daemon's core: consumes bee-queue queues, runs each task through
 * the base task, and turns the final outcome into the task record's terminal
 * state plus its durable deliveries (one Lua script) before the job is acked.
 */
import type BeeQueue from 'bee-queue';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { Config, QueueName } from '../config.js';
import { WorkerLostError, coerceError, errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRegistry } from '../tasks/registry.js';
import type { Keys } from '../store/keys.js';
import type { Outcome, TaskFields, TaskStore } from '../store/task-store.js';
import { createQueue, type TaskJobData, type TaskQueue } from '../queue/queues.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import { failureFromError } from '../delivery/payload.js';
import type { SubscriptionMatcher } from '../delivery/subscriptions.js';
import type { Metrics } from '../metrics/metrics.js';
import { traceId } from '../trace.js';
import { runTask, StopSwitch } from './base-task.js';
import { createProgressWriter } from './progress.js';
import { claimed, progressEntry, startedDeliveries } from './outcome.js';
import { createFinisher } from './finisher.js';
import { queuedAt } from '../store/fields.js';

export interface WorkerOptions {
  config: Config;
  logger: Logger;
  registry: TaskRegistry;
  keys: Keys;
  store: TaskStore;
  subscriptions: SubscriptionMatcher;
  /** A connection this worker may put into subscriber mode (cancel requests). */
  subscriber: Redis;
  /** Sends deliveries right after they are written; null = leave them to another process. */
  dispatcher: DeliveryDispatcher | null;
  /** The guarded egress dispatcher handed to tasks. */
  egress: Dispatcher;
  queues: readonly QueueName[];
  concurrency: number;
  metrics?: Metrics;
}

export interface RunningTask {
  task_id: string;
  task_type: string;
  queue: QueueName;
  /** Epoch ms when this run started. */
  started: number;
}

export interface Worker {
  ready(): Promise<void>;
  /** Tasks running now. */
  running(): number;
  /** What is running now (for heartbeats and dashboards). */
  current(): RunningTask[];
  /** Stops taking jobs, lets running ones finish within `graceMs`, hands the rest back. */
  close(graceMs: number): Promise<void>;
}

type JobResult = { outcome: string };

/**
 * What one job has reached so far, for the fault path: the task record once
 * `start.lua` has marked it running, and whether its outcome is written.
 */
interface JobProgress {
  fields: TaskFields | null;
  settled: boolean;
}

/**
 * The bee-queue job options the fault path touches. `faults` counts its
 * re-queues (the pause doubles each time); `taskBackoff` keeps the task's own
 * backoff while the fault pause stands in for it, and is put back when the
 * job runs again.
 */
interface FaultJobOptions {
  retries?: number;
  backoff?: { strategy: string; delay?: number };
  stacktraces?: string[];
  faults?: number;
  taskBackoff?: { strategy: string; delay?: number } | null;
}

/** The longest pause between two re-queues of a job the worker could not settle. */
const MAX_FAULT_PAUSE_MS = 300_000;
/** Stack traces bee-queue keeps in a job that keeps faulting (it adds one per failure). */
const KEPT_STACKTRACES = 4;

/** Thrown by runJob when bee-queue itself should run the job again (the task's own `retries` option). */
class RetryThroughQueue extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

export function createWorker(opts: WorkerOptions): Worker {
  const { config, store, registry } = opts;
  /** Set once the shutdown grace has run out: every running or starting task is handed back. */
  let handingBack = false;
  const queues = new Map<QueueName, TaskQueue>();
  /** Stop switches of the tasks running here (cancel requests, shutdown). */
  const stops = new Map<string, StopSwitch>();
  const current = new Map<string, RunningTask>();
  /** Jobs running here and not yet handed back. */
  let running = 0;
  const idle: (() => void)[] = [];
  const leaseEnd = (): number => Date.now() + (opts.dispatcher?.leaseMs ?? 0);

  const subsFor = (fields: TaskFields, event: string) =>
    opts.subscriptions.matching(fields.tenant ?? '', event, fields.type ?? '', fields.project ? fields.project : null);

  const finisher = createFinisher({ config, store, subscriptions: opts.subscriptions, dispatcher: opts.dispatcher, metrics: opts.metrics });

  const announceStart = async (fields: TaskFields): Promise<void> => {
    const entries = startedDeliveries(fields, await subsFor(fields, 'task.started'), new Date());
    if (entries.length === 0) return;
    const leaseUntil = leaseEnd();
    const created = new Set(await store.enqueue(fields, entries, leaseUntil));
    if (opts.dispatcher) for (const e of entries) if (created.has(e.deliveryId)) opts.dispatcher.deliverNow(claimed(e, fields.id ?? '', leaseUntil));
  };

  const progressEvents = (fields: TaskFields, log: Logger) => (percent: number): void => {
    subsFor(fields, 'task.progress')
      .then((subs) =>
        Promise.all(subs.map((s) => store.progressEvent(fields, progressEntry(fields, s, percent, new Date()), config.PROGRESS_EVENT_INTERVAL_MS))),
      )
      .catch((err: unknown) => log.debug('progress event not written', { err: coerceError(err).message }));
  };

  const failWith = (err: Error): Outcome => ({ status: 'failed', error: failureFromError(err) });

  const processJob = async (queue: QueueName, job: BeeQueue.Job<TaskJobData>, release: () => void): Promise<JobResult> => {
    const taskId = job.id;
    // Listen for a cancel before the task is marked running: cancel.lua only
    // publishes for running tasks, so no request can fall into a gap.
    const stop = new StopSwitch();
    if (handingBack) stop.stop('shutdown');
    stops.set(taskId, stop);
    const progress: JobProgress = { fields: null, settled: false };
    // A job back from a fault pause: its own backoff applies again to the task's own retries.
    const options = job.options as FaultJobOptions;
    if (options.taskBackoff !== undefined) {
      if (options.taskBackoff === null) delete options.backoff;
      else options.backoff = options.taskBackoff;
      delete options.taskBackoff;
    }
    try {
      return await runJob(queue, job, release, stop, progress);
    } catch (err) {
      if (err instanceof RetryThroughQueue) throw err.error;
      return await recoverFromFault(queue, job, progress, coerceError(err));
    } finally {
      stops.delete(taskId);
      current.delete(taskId);
    }
  };

  /**
   * Something threw where nothing should (a handler result JSON cannot
   * encode, a schema with an async refinement, a Redis script error). Left
   * to bee-queue, the job would be dropped (`removeOnFailure`) while the task
   * record still says `queued` or `running`, and nothing would ever pick it
   * up again. So: settle the task as failed (`internal_error`) if it was
   * started and not yet settled; if even that cannot be written (Redis
   * refuses writes, say), have bee-queue put the job back after a pause
   * instead of dropping it. The pause doubles with each fault, up to 5
   * minutes, so a sick Redis is not hammered; each re-run counts as a lost
   * run, so the handler runs at most TASK_MAX_LOST more times and later runs
   * only try to write the `worker_lost` outcome, until Redis takes it.
   */
  const recoverFromFault = async (queue: QueueName, job: BeeQueue.Job<TaskJobData>, progress: JobProgress, err: Error): Promise<JobResult> => {
    const log = opts.logger.child({ task_id: job.id, queue });
    if (progress.settled) {
      log.error('worker fault after the task was settled', { err: err.message, stack: err.stack });
      return { outcome: 'settled' };
    }
    if (progress.fields) {
      const error = { ...failureFromError(err), message: `The worker could not finish this task: ${err.message}`, error_type: 'internal_error' };
      try {
        await finisher.finish(progress.fields, { status: 'failed', error }, log);
        log.error('task failed by a worker fault', { err: err.message, stack: err.stack });
        return { outcome: 'failed' };
      } catch (writeErr) {
        log.error('worker fault, and the failure could not be written either', { err: err.message, write_err: coerceError(writeErr).message });
      }
    } else {
      log.error('worker fault before the task started', { err: err.message, stack: err.stack });
    }
    const options = job.options as FaultJobOptions;
    // bee-queue takes one retry off for this re-queue: the task's own budget stays as it was.
    options.retries = (options.retries ?? 0) + 1;
    options.faults = (options.faults ?? 0) + 1;
    if (options.taskBackoff === undefined) options.taskBackoff = options.backoff ?? null;
    options.backoff = { strategy: 'fixed', delay: Math.min(MAX_FAULT_PAUSE_MS, config.STALL_INTERVAL_MS * 2 ** (options.faults - 1)) };
    // bee-queue stores every failure's stack in the job: bound what a long fault leaves in Redis.
    options.stacktraces?.splice(KEPT_STACKTRACES);
    throw new RetryThroughQueue(err);
  };

  const runJob = async (
    queue: QueueName,
    job: BeeQueue.Job<TaskJobData>,
    release: () => void,
    stop: StopSwitch,
    progressOf: JobProgress,
  ): Promise<JobResult> => {
    const taskId = job.id;
    const verdict = await store.start(taskId, config.TASK_MAX_LOST);
    if (verdict.kind === 'missing') {
      opts.logger.warn('job has no task record; dropping it', { task_id: taskId, queue });
      return { outcome: 'missing' };
    }
    if (verdict.kind === 'done') return { outcome: 'already-finished' };
    const fields = verdict.fields;
    progressOf.fields = fields;
    const finish = async (f: TaskFields, outcome: Outcome, log: Logger): Promise<void> => {
      await finisher.finish(f, outcome, log);
      progressOf.settled = true;
    };
    const log = opts.logger.child({ task_id: taskId, task_type: fields.type, queue, attempt: Number(fields.runs ?? 1), trace_id: traceId(fields.trace) });
    const joined = verdict.kind === 'run' ? queuedAt(fields.queued, fields.created) : null;
    if (joined !== null) opts.metrics?.queueWait.observe({ queue }, Math.max(0, Number(fields.started ?? Date.now()) - joined) / 1000);
    if (verdict.kind === 'cancel') {
      await finish(fields, { status: 'cancelled' }, log);
      return { outcome: 'cancelled' };
    }
    if (verdict.kind === 'lost') {
      await finish(fields, failWith(new WorkerLostError(Number(fields.lost ?? 0))), log);
      return { outcome: 'worker_lost' };
    }

    const def = registry.get(fields.type ?? '');
    if (!def) {
      await finish(fields, { status: 'failed', error: { message: `Unknown task type "${fields.type}"`, error_type: 'unknown_task_type' } }, log);
      return { outcome: 'failed' };
    }
    // Async: a schema may have async refinements (the API validates the same way).
    const parsed = await def.input.safeParseAsync(fields.data ? JSON.parse(fields.data) : {});
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `task_data.${i.path.join('.')}: ${i.message}`).join('; ');
      await finish(fields, { status: 'failed', error: { message, error_type: 'invalid_input' } }, log);
      return { outcome: 'failed' };
    }

    announceStart(fields).catch((err: unknown) => log.warn('task.started event not written', { err: coerceError(err).message }));
    const options = fields.opts ? (JSON.parse(fields.opts) as { timeout_s?: number }) : {};
    const progress = createProgressWriter(store, taskId, log, progressEvents(fields, log));
    current.set(taskId, { task_id: taskId, task_type: fields.type ?? '', queue, started: Number(fields.started ?? Date.now()) });
    log.debug('task started');
    const run = await runTask({
      def,
      input: parsed.data,
      taskId,
      attempt: Number(fields.runs ?? 1),
      timeoutMs: options.timeout_s ? options.timeout_s * 1000 : def.timeoutMs,
      logger: log,
      config,
      dispatcher: opts.egress,
      stop,
      onProgress: progress.report,
    });
    await progress.flush();

    if (run.kind === 'success') {
      await finish(fields, { status: 'completed', result: run.result }, log);
      return { outcome: 'completed' };
    }
    if (run.kind === 'cancelled') {
      await finish(fields, { status: 'cancelled' }, log);
      return { outcome: 'cancelled' };
    }
    if (run.kind === 'shutdown') {
      // Hand the job back to the queue for another worker, and never settle:
      // if bee-queue saw an outcome it would drop the job.
      await store.requeue(taskId, null, queue);
      log.info('task handed back at shutdown');
      release();
      return new Promise<JobResult>(() => undefined);
    }
    const retriesLeft = Number((job.options as { retries?: number }).retries ?? 0);
    const retryable = (run.error as { retryable?: boolean }).retryable !== false;
    if (retriesLeft > 0 && retryable) {
      // If Redis refuses the requeue, bee-queue still retries the job: the
      // record then says `running`, and the next run counts as a lost one.
      await store.requeue(taskId, JSON.stringify(failureFromError(run.error)), undefined).catch((err: unknown) => {
        log.warn('could not mark the task queued for its retry', { err: coerceError(err).message });
      });
      progressOf.settled = true; // for this run: bee-queue retries the job
      log.info('task attempt failed; bee-queue will retry it', { error_type: errorCode(run.error), retries_left: retriesLeft });
      throw new RetryThroughQueue(run.error);
    }
    await finish(fields, failWith(run.error), log);
    return { outcome: 'failed' };
  };

  for (const name of opts.queues) {
    const queue = createQueue(name, { redisUrl: config.REDIS_URL, keys: opts.keys, role: 'worker', stallIntervalMs: config.STALL_INTERVAL_MS });
    queue.on('error', (err: Error) => opts.logger.warn('queue connection error', { queue: name, err: err.message }));
    queue.process(opts.concurrency, async (job: BeeQueue.Job<TaskJobData>) => {
      running += 1;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        running -= 1;
        if (running === 0) for (const cb of idle.splice(0)) cb();
      };
      try {
        return await processJob(name, job, release);
      } finally {
        release();
      }
    });
    queues.set(name, queue);
  }

  // A cancel request reaches every worker; the one running the task aborts it.
  opts.subscriber.on('message', (_channel: string, taskId: string) => stops.get(taskId)?.stop('cancel'));

  return {
    async ready() {
      await opts.subscriber.subscribe(opts.keys.cancelChannel);
      await Promise.all(
        [...queues.values()].map(async (q) => {
          await q.ready();
          // bee-queue checks stalled jobs once unless told to keep checking.
          void q.checkStalledJobs(Math.max(50, Math.floor(config.STALL_INTERVAL_MS / 2))).catch((err: unknown) =>
            opts.logger.warn('stalled-job check failed', { err: coerceError(err).message }),
          );
        }),
      );
    },
    running: () => running,
    current: () => [...current.values()],
    async close(graceMs) {
      const handBack = setTimeout(() => {
        handingBack = true;
        for (const s of stops.values()) s.stop('shutdown');
      }, graceMs);
      handBack.unref();
      // bee-queue's close waits for every job promise; a handed-back job never
      // settles, so stop waiting as soon as nothing runs here any more.
      const closed = Promise.all([...queues.values()].map((q) => q.close(graceMs + 3000).catch(() => undefined)));
      const drained = running === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve));
      await Promise.race([closed, drained.then(() => Promise.race([closed, new Promise((r) => setTimeout(r, 200))]))]);
      clearTimeout(handBack);
      opts.subscriber.disconnect();
    },
  };
}

