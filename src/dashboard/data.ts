/**
 * What the dashboard's JSON endpoints answer. Everything is read through the
 * same modules the API and `taskhook top` use (task list and view, delivery
 * log, subscription store, `readTop`); this file only shapes it for the page
 * and scopes it to the session's tenant.
 */
import type { Redis } from 'ioredis';
import { readTop, type WorkerRow } from '../cli/top-data.js';
import type { Keys } from '../store/keys.js';
import { listTasks, type TaskListItem } from '../store/task-list.js';
import { readTaskView, type TaskView } from '../store/task-view.js';
import type { Page } from '../webhooks/page.js';
import { createDeliveryLog, type DeliveryView } from '../webhooks/deliveries.js';
import { createSubscriptionStore, renderSubscription, type SubscriptionView } from '../webhooks/store.js';
import { readStats, type StatsSeries } from './stats.js';

/** A heartbeat older than this is shown as stale (a live worker beats every 5 s). */
export const STALE_HEARTBEAT_MS = 10_000;
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PING_TIMEOUT_MS = 1000;
export const PAGE_SIZE = 20;

export interface RunningTaskCard {
  /** Null for another tenant's task: only its type and age are shown. */
  task_id: string | null;
  task_type: string;
  queue: string;
  elapsed_ms: number;
  progress: number | null;
}

export interface WorkerCard {
  id: string;
  host: string;
  pid: string;
  queues: string[];
  concurrency: number;
  busy: number;
  uptime_ms: number;
  heartbeat_age_ms: number;
  stale: boolean;
  tasks: RunningTaskCard[];
}

export interface QueueCard {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  oldest_waiting_ms: number | null;
  completed_per_min: number;
  /** Per minute, last 60 minutes (the charts' `minutes` are the x values). */
  completed: number[];
  failed_series: number[];
}

export interface Overview {
  now: number;
  redis: { ok: boolean; latency_ms: number | null };
  queues: QueueCard[];
  workers: WorkerCard[];
  callbacks: { pending: number; failing: number };
  charts: Pick<StatsSeries, 'minutes' | 'throughput' | 'p95' | 'callbackSuccess'>;
}

export interface TaskDetail {
  task: TaskView;
  /** The current callback delivery with every attempt (null without a callback or before the outcome). */
  delivery: DeliveryView | null;
}

export interface DashboardData {
  ping(): Promise<number | null>;
  overview(tenant: string): Promise<Overview>;
  tasks(tenant: string, q: { status?: TaskListItem['status']; task_type?: string; id?: string; cursor?: string }): Promise<Page<TaskListItem>>;
  task(tenant: string, id: string): Promise<TaskDetail | null>;
  deadLetters(tenant: string, cursor?: string): Promise<Page<DeliveryView>>;
  webhooks(tenant: string): Promise<SubscriptionView[]>;
  webhookDeliveries(tenant: string, subId: string, q: { failedOnly: boolean; cursor?: string }): Promise<Page<DeliveryView> | null>;
}

/** Splits `{host}:{pid}` at the last colon (host names may not contain one, but be safe). */
function hostPid(id: string): { host: string; pid: string } {
  const at = id.lastIndexOf(':');
  return at < 0 ? { host: id, pid: '' } : { host: id.slice(0, at), pid: id.slice(at + 1) };
}

function itemOf(view: TaskView): TaskListItem {
  return {
    task_id: view.task_id,
    task_type: view.task_type,
    project_id: view.project_id,
    status: view.status,
    progress: view.progress,
    created_at: view.created_at,
    completed_at: view.completed_at,
    callback_state: view.callback.state,
  };
}

export function createDashboardData(redis: Redis, keys: Keys): DashboardData {
  const log = createDeliveryLog(redis, keys);
  const subs = createSubscriptionStore(redis, keys.prefix);

  async function ping(): Promise<number | null> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), PING_TIMEOUT_MS);
    });
    const answer = await Promise.race([redis.ping().then(() => Math.round((performance.now() - started) * 10) / 10, () => null), timeout]);
    clearTimeout(timer);
    return answer;
  }

  /** The worker's runs in progress; progress and id only for the tenant's own tasks. */
  async function workerCards(tenant: string, rows: WorkerRow[], now: number): Promise<WorkerCard[]> {
    const running = rows.flatMap((w) => w.tasks ?? []);
    const p = redis.pipeline();
    for (const t of running) p.hmget(keys.task(t.task_id), 'tenant', 'progress');
    const fields = running.length === 0 ? [] : ((await p.exec()) ?? []).map(([, v]) => (v ?? []) as (string | null)[]);
    const own = new Map<string, number>();
    running.forEach((t, i) => {
      const [owner, progress] = fields[i] ?? [];
      if (owner === tenant) own.set(t.task_id, Math.min(100, Math.max(0, Number(progress ?? 0) || 0)));
    });
    return rows.map((w) => ({
      id: w.id,
      ...hostPid(w.id),
      queues: w.queues,
      concurrency: w.concurrency,
      busy: w.busy,
      uptime_ms: Math.max(0, now - w.started),
      heartbeat_age_ms: Math.max(0, now - w.heartbeat),
      stale: now - w.heartbeat > STALE_HEARTBEAT_MS,
      tasks: (w.tasks ?? []).map((t) => ({
        task_id: own.has(t.task_id) ? t.task_id : null,
        task_type: t.task_type,
        queue: t.queue,
        elapsed_ms: Math.max(0, now - t.started),
        progress: own.get(t.task_id) ?? null,
      })),
    }));
  }

  async function overview(tenant: string): Promise<Overview> {
    const latency = await ping();
    const now = Date.now();
    const emptyCharts = { minutes: [], throughput: { completed: [], failed: [] }, p95: {}, callbackSuccess: [] };
    if (latency === null) return { now, redis: { ok: false, latency_ms: null }, queues: [], workers: [], callbacks: { pending: 0, failing: 0 }, charts: emptyCharts };
    const [top, stats] = await Promise.all([readTop(redis, keys, now), readStats(redis, keys.prefix, now)]);
    return {
      now,
      redis: { ok: true, latency_ms: latency },
      queues: top.queues.map((q) => ({
        queue: q.queue,
        waiting: q.waiting,
        active: q.active,
        delayed: q.delayed,
        failed: q.failed,
        oldest_waiting_ms: q.oldestWaitingMs,
        completed_per_min: stats.ratePerMin[q.queue] ?? 0,
        completed: stats.queues[q.queue]?.completed ?? [],
        failed_series: stats.queues[q.queue]?.failed ?? [],
      })),
      workers: await workerCards(tenant, top.workers, now),
      callbacks: { pending: top.callbacks.pending, failing: top.callbacks.failing },
      charts: { minutes: stats.minutes, throughput: stats.throughput, p95: stats.p95, callbackSuccess: stats.callbackSuccess },
    };
  }

  async function task(tenant: string, rawId: string): Promise<TaskDetail | null> {
    const id = rawId.toLowerCase();
    if (!TASK_ID.test(id)) return null;
    const found = await readTaskView(redis, keys, id);
    // Another tenant's task is indistinguishable from one that does not exist.
    if (!found || found.tenant !== tenant) return null;
    const dlv = found.view.callback.state === 'none' ? null : await redis.hget(keys.task(id), 'dlv');
    return { task: found.view, delivery: dlv ? await log.get(tenant, dlv) : null };
  }

  return {
    ping,
    overview,
    task,
    async tasks(tenant, q) {
      if (q.id !== undefined) {
        const found = await task(tenant, q.id.trim());
        return { items: found ? [itemOf(found.task)] : [], next_cursor: null };
      }
      return listTasks(redis, keys, tenant, { status: q.status, task_type: q.task_type, limit: PAGE_SIZE, cursor: q.cursor });
    },
    deadLetters(tenant, cursor) {
      return log.listDead(tenant, { limit: PAGE_SIZE, cursor });
    },
    async webhooks(tenant) {
      const page = await subs.list(tenant, { limit: 100 });
      return page.items.map(renderSubscription);
    },
    async webhookDeliveries(tenant, subId, q) {
      if ((await subs.get(tenant, subId)) === null) return null;
      return log.listForSubscription(tenant, subId, { limit: PAGE_SIZE, cursor: q.cursor, status: q.failedOnly ? 'failed' : undefined });
    },
  };
}
