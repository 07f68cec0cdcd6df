/**
 * Prometheus metrics (prom-client). One registry per process, created by the
 * entry point; label values are task types, queues, statuses and classes —
 * never ids or URLs, so cardinality stays bounded.
 */
import client from 'prom-client';
import { TIMED_OUT, within } from '../within.js';

export interface Metrics {
  registry: client.Registry;
  tasksSubmitted: client.Counter<'task_type'>;
  tasksFinished: client.Counter<'task_type' | 'status'>;
  taskDuration: client.Histogram<'task_type'>;
  queueWait: client.Histogram<'queue'>;
  queueJobs: client.Gauge<'queue' | 'state'>;
  oldestWaiting: client.Gauge<'queue'>;
  deliveries: client.Counter<'outcome' | 'status_class'>;
  deliveryDuration: client.Histogram;
  callbacksPending: client.Gauge;
}

/** The cluster-wide gauges, as one read of Redis found them. */
export interface QueueGauges {
  jobs: { queue: string; state: 'waiting' | 'active' | 'delayed' | 'failed'; count: number }[];
  /** Per queue: seconds since the job next in line was queued (0 when none waits). */
  oldestWaitingS: { queue: string; seconds: number }[];
  callbacksPending: number;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop). @default true */
  defaults?: boolean;
  /**
   * Reads the cluster-wide queue gauges from Redis on scrape; resolves null
   * when another process reports them (not the leader). With it, the registry
   * also has `taskhook_redis_up`.
   */
  collectQueues?: () => Promise<QueueGauges | null>;
  /**
   * How long a scrape waits for `collectQueues`. Past it (or when it fails)
   * the scrape leaves the Redis-derived gauges out and reports
   * `taskhook_redis_up 0`, so the process metrics still arrive while Redis is
   * down or hung. @default 1000
   */
  collectTimeoutMs?: number;
}

/** `2xx`, `4xx`, … or `none` when no response came. */
export function statusClass(status: number | null): string {
  return status === null ? 'none' : `${Math.floor(status / 100)}xx`;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  if (opts.defaults !== false) client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const collectTimeoutMs = opts.collectTimeoutMs ?? 1000;
  let m: Metrics;
  const redisUp = opts.collectQueues
    ? new client.Gauge({
        name: 'taskhook_redis_up',
        help: "1 when this process's last read of the queue gauges answered within the scrape's time limit, else 0.",
        registers,
        collect: () => collectOnce(),
      })
    : null;
  // One scrape calls the four gauges' collect hooks together: they share one
  // wait (so they report one consistent state) for one Redis read. A read
  // still unanswered from an earlier scrape is waited on again rather than
  // queueing another behind it; each scrape waits for it at most
  // collectTimeoutMs, and one that has given up never applies it.
  let reading: Promise<QueueGauges | null> | null = null;
  const collectQueues = async (read: () => Promise<QueueGauges | null>): Promise<void> => {
    reading ??= read().finally(() => {
      reading = null;
    });
    // A failed read counts as no answer, like a late one.
    const got = await within(reading.catch((): typeof TIMED_OUT => TIMED_OUT), collectTimeoutMs);
    m.queueJobs.reset();
    m.oldestWaiting.reset();
    m.callbacksPending.reset();
    redisUp?.set(got === TIMED_OUT ? 0 : 1);
    if (got === TIMED_OUT || got === null) return;
    for (const j of got.jobs) m.queueJobs.set({ queue: j.queue, state: j.state }, j.count);
    for (const o of got.oldestWaitingS) m.oldestWaiting.set({ queue: o.queue }, o.seconds);
    m.callbacksPending.set(got.callbacksPending);
  };
  let collecting: Promise<void> | null = null;
  const collectOnce = async (): Promise<void> => {
    const read = opts.collectQueues;
    if (!read) return;
    collecting ??= collectQueues(read).finally(() => {
      collecting = null;
    });
    await collecting;
  };
  m = {
    registry,
    tasksSubmitted: new client.Counter({ name: 'taskhook_tasks_submitted_total', help: 'Tasks accepted by the API.', labelNames: ['task_type'], registers }),
    tasksFinished: new client.Counter({
      name: 'taskhook_tasks_finished_total',
      help: 'Tasks that reached a final outcome.',
      labelNames: ['task_type', 'status'],
      registers,
    }),
    taskDuration: new client.Histogram({
      name: 'taskhook_task_duration_seconds',
      help: 'Handler run time of tasks that finished.',
      labelNames: ['task_type'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600, 1800],
      registers,
    }),
    queueWait: new client.Histogram({
      name: 'taskhook_task_queue_wait_seconds',
      help: 'Time from when the task was queued (submit, the end of its delay_s, or a retry) to the start of a run.',
      labelNames: ['queue'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers,
    }),
    queueJobs: new client.Gauge({
      name: 'taskhook_queue_jobs',
      help: 'Jobs per queue and state (reported by one process).',
      labelNames: ['queue', 'state'],
      registers,
      collect: collectOnce,
    }),
    oldestWaiting: new client.Gauge({
      name: 'taskhook_queue_oldest_waiting_age_seconds',
      help: 'Time since the job next in line per queue was queued (submit, the end of its delay_s, or a retry; reported by one process).',
      labelNames: ['queue'],
      registers,
      collect: collectOnce,
    }),
    deliveries: new client.Counter({
      name: 'taskhook_callback_deliveries_total',
      help: 'Callback and event delivery attempts by outcome and HTTP status class.',
      labelNames: ['outcome', 'status_class'],
      registers,
    }),
    deliveryDuration: new client.Histogram({
      name: 'taskhook_callback_delivery_duration_seconds',
      help: 'Duration of delivery attempts.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    callbacksPending: new client.Gauge({
      name: 'taskhook_callbacks_pending',
      help: 'Deliveries waiting in Redis: due, retrying or in flight (reported by one process).',
      registers,
      collect: collectOnce,
    }),
  };
  return m;
}

