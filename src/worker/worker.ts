/**
 * The worker daemon's core: takes jobs off bee-queue queues (src/queue/consumer.ts),
 * runs each task through the base task, and turns the final outcome into the
 * task record's terminal state plus its durable deliveries, acknowledging the
 * job in the same Lua script.
 */
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { Config, QueueName } from '../config.js';
import { WorkerLostError, coerceError, errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRegistry } from '../tasks/registry.js';
import type { Keys } from '../store/keys.js';
import type { Outcome, TakenJob, TaskFields, TaskStore } from '../store/task-store.js';
import { createQueue, type TaskQueue } from '../queue/queues.js';
import { createConsumer, type Consumer } from '../queue/consumer.js';
import { parseJob, retryJob } from '../queue/job.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import { failureFromError } from '../delivery/payload.js';
import type { SubscriptionMatcher } from '../delivery/subscriptions.js';
import type { Metrics } from '../metrics/metrics.js';
import { traceId } from '../trace.js';
import { runTask, StopSwitch } from './base-task.js';
import { createProgressWriter } from './progress.js';
import { createFinisher } from './finisher.js';
import { createTaskEvents } from './task-events.js';
import { queuedAt } from '../store/fields.js';
import { within } from '../within.js';
import { recentIds } from './recent-ids.js';
import { putBack, recoverFromFault, type JobProgress, type JobResult } from './fault.js';

export interface WorkerOptions {
  config: Config;
  logger: Logger;
  registry: TaskRegistry;
  keys: Keys;
  store: TaskStore;
  subscriptions: SubscriptionMatcher;
  /** The shared client: the consumers' stall guard; each consumer's blocking wait gets a duplicate of it. */
  redis: Redis;
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

/** How long a cancel request for a task not (yet) running here is kept. */
const EARLY_CANCEL_MS = 10_000;
/** At most this many are kept (every worker hears every cancel; most are for other workers' tasks). */
const EARLY_CANCEL_MAX = 10_000;

export function createWorker(opts: WorkerOptions): Worker {
  const { config, store, registry } = opts;
  /** Set once the shutdown grace has run out: every running or starting task is handed back. */
  let handingBack = false;
  const queues = new Map<QueueName, TaskQueue>();
  const consumers: Consumer[] = [];
  const blocking: Redis[] = [];
  /** Stop switches of the tasks running here, with the generation each runs (cancel requests, shutdown). */
  const stops = new Map<string, { stop: StopSwitch; gen: string }>();
  /** Cancel requests (`{task id}:{gen}`) that arrived for runs not here (yet). */
  const early = recentIds(EARLY_CANCEL_MS, EARLY_CANCEL_MAX);
  const current = new Map<string, RunningTask>();
  /** Jobs taken here and not yet settled. */
  let running = 0;
  const idle: (() => void)[] = [];
  const finisher = createFinisher({ config, store, subscriptions: opts.subscriptions, dispatcher: opts.dispatcher, metrics: opts.metrics });
  const events = createTaskEvents({ config, store, subscriptions: opts.subscriptions, dispatcher: opts.dispatcher });
  const faults = { finisher, store, stallIntervalMs: config.STALL_INTERVAL_MS, logger: opts.logger };

  const failWith = (err: Error): Outcome => ({ status: 'failed', error: failureFromError(err) });

  const processJob = async (queue: QueueName, job: TakenJob): Promise<JobResult> => {
    const taskId = job.id;
    // Listen for a cancel before the run starts: cancel.lua only publishes for
    // running tasks, and this task is running already (take.lua started it).
    const stop = new StopSwitch();
    const gen = 'fields' in job.verdict ? (job.verdict.fields.gen ?? '1') : '';
    if (handingBack) stop.stop('shutdown');
    else if (early.take(`${taskId}:${gen}`)) stop.stop('cancel');
    stops.set(taskId, { stop, gen });
    const progress: JobProgress = { fields: null, settled: false };
    try {
      return await runJob(queue, job, stop, progress);
    } catch (err) {
      return await recoverFromFault(faults, queue, job, progress, coerceError(err));
    } finally {
      stops.delete(taskId);
      current.delete(taskId);
    }
  };

  const runJob = async (queue: QueueName, job: TakenJob, stop: StopSwitch, progressOf: JobProgress): Promise<JobResult> => {
    const taskId = job.id;
    const verdict = job.verdict;
    if (verdict.kind === 'missing') {
      opts.logger.warn('job has no task record; dropped it', { task_id: taskId, queue });
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

    events.announceStart(fields).catch((err: unknown) => log.warn('task.started event not written', { err: coerceError(err).message }));
    const options = fields.opts ? (JSON.parse(fields.opts) as { timeout_s?: number }) : {};
    const progress = createProgressWriter(store, taskId, log, events.progressEvents(fields, log));
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
      // The job goes back to the front of the queue for another worker.
      progressOf.settled = true; // this run has no outcome to write
      const back = await putBack(() => store.requeue(taskId, queue, fields.claim ?? '', null), log);
      if (back === null) return { outcome: 'stalled' };
      if (!back) return { outcome: 'stale' };
      log.info('task handed back at shutdown');
      return { outcome: 'handed-back' };
    }
    const again = (run.error as { retryable?: boolean }).retryable === false ? null : retryJob(parseJob(job.job), run.error.stack ?? run.error.message, Date.now());
    if (again) {
      // The task's own retries: the job waits its backoff in bee-queue's delayed set.
      progressOf.settled = true; // for this run
      const back = await putBack(() => store.requeue(taskId, queue, fields.claim ?? '', JSON.stringify(failureFromError(run.error)), again), log);
      if (back === null) return { outcome: 'stalled' };
      if (!back) return { outcome: 'stale' };
      log.info('task attempt failed; it will run again', { error_type: errorCode(run.error), retry_in_ms: Math.max(0, again.at - Date.now()) });
      return { outcome: 'retrying' };
    }
    await finish(fields, failWith(run.error), log);
    return { outcome: 'failed' };
  };

  const runTaken = async (queue: QueueName, job: TakenJob): Promise<void> => {
    running += 1;
    try {
      await processJob(queue, job);
    } finally {
      running -= 1;
      if (running === 0) for (const cb of idle.splice(0)) cb();
    }
  };

  for (const name of opts.queues) {
    // bee-queue's own Queue stays for what it does well: its stall check puts
    // back the jobs of workers that died, and its delayed-job timer raises
    // retries and delay_s tasks when they fall due.
    const queue = createQueue(name, { redisUrl: config.REDIS_URL, keys: opts.keys, role: 'worker', stallIntervalMs: config.STALL_INTERVAL_MS });
    queue.on('error', (err: Error) => opts.logger.warn('queue connection error', { queue: name, err: err.message }));
    queues.set(name, queue);
    const wait = opts.redis.duplicate({ enableAutoPipelining: false });
    wait.on('error', () => undefined); // the shared client reports the same outage
    blocking.push(wait);
    consumers.push(
      createConsumer({
        prefix: `${opts.keys.bq}:${name}:`,
        concurrency: opts.concurrency,
        take: (max, moved) => store.take(name, max, moved, config.TASK_MAX_LOST),
        // A run take.lua started goes back as a hand-back (its task back to queued); anything else untouched.
        giveBack: (id, job) => (job?.verdict.kind === 'run' ? store.requeue(id, name, job.verdict.fields.claim ?? '', null) : store.giveBack(id, name)),
        run: (job) => runTaken(name, job),
        redis: opts.redis,
        blocking: wait,
        stallIntervalMs: config.STALL_INTERVAL_MS,
        logger: opts.logger,
      }),
    );
  }

  // A cancel request (`{task id}:{gen}`) reaches every worker; the one running
  // that generation of the task aborts it. take.lua marks a task running
  // before this process has its stop switch, and the message can overtake
  // take.lua's reply (another connection): a cancel for a run not here is
  // kept for a while, and that run, taken meanwhile, starts stopped.
  opts.subscriber.on('message', (_channel: string, message: string) => {
    const [taskId = '', gen = ''] = message.split(':');
    const running = stops.get(taskId);
    // A bare task id comes from an API of an earlier version (a rolling deploy): it means the run going on.
    if (running && (gen === '' || running.gen === gen)) running.stop.stop('cancel');
    else if (gen !== '') early.add(`${taskId}:${gen}`);
  });

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
      for (const c of consumers) c.start();
    },
    running: () => running,
    current: () => [...current.values()],
    async close(graceMs) {
      const handBack = setTimeout(() => {
        handingBack = true;
        for (const s of stops.values()) s.stop.stop('shutdown');
      }, graceMs);
      handBack.unref();
      await Promise.all(consumers.map((c) => c.stop()));
      // Running tasks finish within the grace or are handed back when it ends;
      // bounded all the same (a hand-back stuck on Redis), as bee-queue's close was.
      if (running > 0) await within(new Promise<void>((resolve) => idle.push(resolve)), graceMs + 3000);
      clearTimeout(handBack);
      for (const b of blocking) b.disconnect();
      // bee-queue's close first waits for its queue to be ready, which a Redis
      // that refuses writes (its scripts load) never lets happen: bounded.
      await within(Promise.all([...queues.values()].map((q) => q.close(1000).catch(() => undefined))), 1500);
      opts.subscriber.disconnect();
    },
  };
}
