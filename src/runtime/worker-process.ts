/** A worker process: task consumers for some queues plus a callback dispatcher. */
import { hostname } from 'node:os';
import { parseQueues } from '../config.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { createWorker, type RunningTask, type Worker } from '../worker/worker.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import type { Services } from './services.js';
import { startMetricsServer } from './metrics-server.js';
import { checkMediaTools } from '../media/tools.js';
import { pruneOutputs } from '../media/retention.js';
import { sweepTempDirs } from '../media/temp-dir.js';
import { coerceError } from '../errors.js';
import { retentionFromConfig, runRetention } from '../maintenance/prune.js';
import type { TaskStore } from '../store/task-store.js';
import { unlessRedisDown } from './redis.js';

export interface WorkerProcessOptions {
  queues: readonly string[];
  concurrency: number;
  registry: TaskRegistry;
  deliver: boolean;
  /** How often the `P:workers:{host}:{pid}` heartbeat is written; it expires after 3 beats. @default 5000 */
  heartbeatMs?: number;
}

export interface RunningWorker {
  worker: Worker;
  dispatcher: DeliveryDispatcher | null;
  /** Drains within `graceMs`: running tasks finish or are handed back, then in-flight callbacks. */
  close(graceMs: number): Promise<void>;
}

/** Output pruning and the temp-dir sweep run at start and then hourly in every worker (both are idempotent). */
const PRUNE_INTERVAL_MS = 3_600_000;

/** `taskhook top` reads `P:workers:{host}:{pid}`; a process silent for 3 beats drops out. */
const HEARTBEAT_MS = 5_000;
const RATE_WINDOW_MS = 60_000;
/** How long a draining worker waits for an aborted retention batch to notice. */
const RETENTION_STOP_WAIT_MS = 2_000;

/**
 * Counts the tasks this process settled, per queue: the store's terminal
 * write is the one place every outcome passes through, and `ok` means this
 * process wrote it (a duplicate run that found the task done does not count).
 */
function countingStore(store: TaskStore, done: Map<string, number>): TaskStore {
  return {
    ...store,
    async finish(fields, outcome, deliveries, progressIds, leaseUntil) {
      const r = await store.finish(fields, outcome, deliveries, progressIds, leaseUntil);
      if (r.kind === 'ok') done.set(fields.queue ?? '', (done.get(fields.queue ?? '') ?? 0) + 1);
      return r;
    },
  };
}

/**
 * Every HEARTBEAT_MS, writes what this process serves and how busy it is
 * (`done` since start and `rate`, settled in about the last minute, both JSON
 * per queue) and `tasks` (JSON list of the runs in progress, for the dashboard);
 * deleted on close, expires if the process dies.
 */
function startHeartbeat(services: Services, queues: readonly string[], concurrency: number, busy: () => number, done: Map<string, number>, everyMs: number, running: () => RunningTask[] = () => []): () => Promise<void> {
  const key = `${services.keys.workersPrefix}${hostname()}:${process.pid}`;
  const started = Date.now();
  // Snapshots of `done`; the first is the baseline at least RATE_WINDOW_MS old (or the start).
  const history: { at: number; done: Record<string, number> }[] = [{ at: started, done: {} }];
  const beat = (): void => {
    const now = Date.now();
    const current = Object.fromEntries(done);
    history.push({ at: now, done: current });
    while (history.length > 1 && (history[1]?.at ?? now) <= now - RATE_WINDOW_MS) history.shift();
    const base = history[0]?.done ?? {};
    const rate = Object.fromEntries(Object.entries(current).map(([q, n]) => [q, n - (base[q] ?? 0)]));
    services.redis
      .multi()
      .hset(key, {
        queues: queues.join(','),
        concurrency: String(concurrency),
        busy: String(busy()),
        started: String(started),
        heartbeat: String(now),
        done: JSON.stringify(current),
        rate: JSON.stringify(rate),
        tasks: JSON.stringify(running()),
      })
      .pexpire(key, everyMs * 3)
      .exec()
      .catch((err: unknown) => services.logger.debug('worker heartbeat failed', { err: coerceError(err).message }));
  };
  const timer = setInterval(beat, everyMs);
  timer.unref();
  beat();
  return async () => {
    clearInterval(timer);
    // Bounded: with Redis down the command would wait for a reconnect, and the key expires anyway.
    await Promise.race([services.redis.del(key).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  };
}


export async function startWorkerProcess(services: Services, opts: WorkerProcessOptions): Promise<RunningWorker> {
  const queues = parseQueues(opts.queues);
  // Fail at start, not on the first video: a queue that needs ffmpeg must find it.
  await checkMediaTools(services.config, opts.registry, queues);
  // Before any job is taken: a METRICS_PORT in use fails the start with nothing to hand back.
  const metricsServer =
    services.config.METRICS_PORT > 0 ? await startMetricsServer(services.metrics, services.config.METRICS_PORT, services.config.HOST) : null;
  const dispatcher = opts.deliver ? services.createDispatcher() : null;
  const done = new Map<string, number>();
  // A duplicate gets none of the shared client's listeners. Without one,
  // ioredis prints every failed reconnect with a stack trace. The same outage
  // is already logged through the shared client.
  const subscriber = services.redis.duplicate();
  subscriber.on('error', () => undefined);
  const worker = createWorker({
    config: services.config,
    logger: services.logger,
    registry: opts.registry,
    keys: services.keys,
    store: countingStore(services.store, done),
    subscriptions: services.subscriptions,
    metrics: services.metrics,
    redis: services.redis,
    subscriber,
    dispatcher,
    egress: services.egress,
    queues,
    concurrency: opts.concurrency,
  });
  await worker.ready();
  dispatcher?.start();
  const prune = (): void => {
    // Temp dirs of worker processes that were killed outright (the rule is in
    // media/temp-dir.ts), also hourly: a killed process on this host need not
    // be followed by a new one.
    sweepTempDirs(services.config).then(
      (n) => n > 0 && services.logger.info('removed temp dirs left by dead worker processes', { removed: n }),
      (err: unknown) => services.logger.warn('sweeping temp dirs failed', { err: coerceError(err).message }),
    );
    pruneOutputs(services.config).then(
      (n) => n > 0 && services.logger.info('pruned old task outputs', { removed: n }),
      (err: unknown) => services.logger.warn('pruning task outputs failed', { err: coerceError(err).message }),
    );
  };
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref();
  prune();
  // Record retention: same schedule; the Redis lock lets one worker do it at a time.
  const retentionStop = new AbortController();
  let retention: Promise<void> = Promise.resolve();
  const pruneRecords = (): void => {
    retention = runRetention(services.redis, services.keys, { ...retentionFromConfig(services.config), signal: retentionStop.signal }).then(
      (r) => r.ran && r.tasks + r.deliveries > 0 && services.logger.info('pruned old records', { tasks: r.tasks, deliveries: r.deliveries }),
      (err: unknown) => services.logger.warn('pruning old records failed', { err: coerceError(err).message }),
    ).then(() => undefined);
  };
  const retentionTimer = setInterval(pruneRecords, PRUNE_INTERVAL_MS);
  retentionTimer.unref();
  pruneRecords();
  const stopHeartbeat = startHeartbeat(services, queues, opts.concurrency, () => worker.running(), done, opts.heartbeatMs ?? HEARTBEAT_MS, () => worker.current());
  services.logger.info('worker ready', { queues, concurrency: opts.concurrency, delivers_callbacks: dispatcher !== null, pid: process.pid });
  return {
    worker,
    dispatcher,
    async close(graceMs) {
      metricsServer?.close();
      clearInterval(pruneTimer);
      clearInterval(retentionTimer);
      retentionStop.abort();
      const started = Date.now();
      // Running tasks first: a retention batch stuck on a Redis outage (ioredis
      // waits for the connection) must not keep them from being handed back.
      // They get the grace even with Redis down (it may be back by then);
      // after it, and with none running, a drain does not wait for Redis
      // (docs/operations.md, Shutdown).
      const { redis } = services;
      await unlessRedisDown(redis, worker.close(graceMs), worker.running() > 0 ? graceMs : 0);
      if (dispatcher) await unlessRedisDown(redis, dispatcher.stop(Math.max(1000, graceMs - (Date.now() - started))));
      await unlessRedisDown(redis, Promise.race([retention, new Promise((r) => setTimeout(r, RETENTION_STOP_WAIT_MS).unref())]));
      await unlessRedisDown(redis, stopHeartbeat());
    },
  };
}
