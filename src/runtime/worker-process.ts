/** A worker process: task consumers for some queues plus a callback dispatcher. */
import type { QueueName } from '../config.js';
import { QUEUE_NAMES } from '../config.js';
import { ValidationError } from '../errors.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { createWorker, type Worker } from '../worker/worker.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import type { Services } from './services.js';
import { checkMediaTools } from '../media/tools.js';
import { pruneOutputs } from '../media/retention.js';
import { coerceError } from '../errors.js';

export interface WorkerProcessOptions {
  queues: readonly string[];
  concurrency: number;
  registry: TaskRegistry;
  deliver: boolean;
}

export interface RunningWorker {
  worker: Worker;
  dispatcher: DeliveryDispatcher | null;
  /** Drains within `graceMs`: running tasks finish or are handed back, then in-flight callbacks. */
  close(graceMs: number): Promise<void>;
}

/** Output pruning runs at start and then hourly in every worker (it is idempotent). */
const PRUNE_INTERVAL_MS = 3_600_000;

export function parseQueues(names: readonly string[]): QueueName[] {
  const unknown = names.filter((n) => !(QUEUE_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown queue(s): ${unknown.join(', ')}. Known queues: ${QUEUE_NAMES.join(', ')}.`, [
      { field: 'queues', message: `unknown: ${unknown.join(', ')}` },
    ]);
  }
  return [...new Set(names)] as QueueName[];
}

export async function startWorkerProcess(services: Services, opts: WorkerProcessOptions): Promise<RunningWorker> {
  const queues = parseQueues(opts.queues);
  // Fail at start, not on the first video: a queue that needs ffmpeg must find it.
  await checkMediaTools(services.config, opts.registry, queues);
  const dispatcher = opts.deliver ? services.createDispatcher() : null;
  const worker = createWorker({
    config: services.config,
    logger: services.logger,
    registry: opts.registry,
    keys: services.keys,
    store: services.store,
    subscriptions: services.subscriptions,
    subscriber: services.redis.duplicate(),
    dispatcher,
    egress: services.egress,
    queues,
    concurrency: opts.concurrency,
  });
  await worker.ready();
  dispatcher?.start();
  const prune = (): void => {
    pruneOutputs(services.config).then(
      (n) => n > 0 && services.logger.info('pruned old task outputs', { removed: n }),
      (err: unknown) => services.logger.warn('pruning task outputs failed', { err: coerceError(err).message }),
    );
  };
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref();
  prune();
  services.logger.info('worker ready', { queues, concurrency: opts.concurrency, delivers_callbacks: dispatcher !== null, pid: process.pid });
  return {
    worker,
    dispatcher,
    async close(graceMs) {
      clearInterval(pruneTimer);
      const started = Date.now();
      await worker.close(graceMs);
      await dispatcher?.stop(Math.max(1000, graceMs - (Date.now() - started)));
    },
  };
}
