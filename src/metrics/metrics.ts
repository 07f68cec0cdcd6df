/**
 * Prometheus metrics (prom-client). One registry per process, created by the
 * entry point; label values are task types, queues, statuses and classes —
 * never ids or URLs, so cardinality stays bounded.
 */
import client from 'prom-client';

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

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop). @default true */
  defaults?: boolean;
  /** Computes the cluster-wide queue gauges on scrape; return false to leave them empty (not the leader). */
  collectQueues?: (m: Metrics) => Promise<boolean>;
}

/** `2xx`, `4xx`, … or `none` when no response came. */
export function statusClass(status: number | null): string {
  return status === null ? 'none' : `${Math.floor(status / 100)}xx`;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  if (opts.defaults !== false) client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let m: Metrics;
  const collectQueues = async (): Promise<void> => {
    if (!opts.collectQueues) return;
    const leader = await opts.collectQueues(m).catch(() => false);
    if (!leader) {
      m.queueJobs.reset();
      m.oldestWaiting.reset();
      m.callbacksPending.reset();
    }
  };
  // One collect hook for the three gauges: they come from one Redis read.
  let pendingCollect: Promise<void> | null = null;
  const collectOnce = async (): Promise<void> => {
    pendingCollect ??= collectQueues().finally(() => {
      pendingCollect = null;
    });
    await pendingCollect;
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
      help: 'Time from submit (or retry) to the start of a run.',
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
      help: 'Age of the oldest waiting job per queue (reported by one process).',
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
