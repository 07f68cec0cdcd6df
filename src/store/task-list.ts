/**
 * The tenant's task list (GET /api/v1/tasks): newest first, filtered, with
 * cursor pages over the per-tenant index `P:tasks:t:{tenant}` (task id scored
 * by creation time, written by the producer with the record). Each chunk of
 * the index costs one pipelined HMGET, plus one pipelined HGET of the
 * callback delivery states for the finished tasks that have a callback.
 */
import type { Redis } from 'ioredis';
import { decodeCursor, loadPageScript, scanPage, type Page, type PageEntry } from '../webhooks/page.js';
import type { Keys } from './keys.js';
import type { CallbackState, TaskStatus } from './task-view.js';
import { isoAt } from './fields.js';

/** The tenant's task index: task ids scored by creation time (epoch ms). */
export function tenantTasksKey(prefix: string, tenant: string): string {
  return `${prefix}:tasks:t:${tenant}`;
}

export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/** A compact list item; `GET /api/v1/tasks/{id}` has the full view. */
export interface TaskListItem {
  task_id: string;
  task_type: string;
  project_id: string | null;
  status: TaskStatus;
  progress: number;
  created_at: string | null;
  completed_at: string | null;
  /** As in the task view: none, pending, then the delivery's own state. */
  callback_state: CallbackState;
}

export interface TaskListQuery {
  status?: TaskStatus;
  task_type?: string;
  project_id?: string;
  /** Only tasks created at or after this time (epoch ms). */
  since?: number;
  /** Items per page (the caller clamps it). */
  limit: number;
  /** An opaque cursor from a previous page; a bad one is a 400 naming `cursor`. */
  cursor?: string;
  /** Index entries examined per request at most. @default 1000 */
  maxScan?: number;
}

// Only what filtering and the list item need; order matters (see `item`).
const FIELDS = ['tenant', 'type', 'project', 'status', 'progress', 'created', 'finished', 'cb', 'dlv'] as const;
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);
const DELIVERY_STATES: ReadonlySet<string> = new Set(['pending', 'delivering', 'delivered', 'failed']);

type Row = (string | null)[];

/** Pure: does the record (HMGET of FIELDS) belong to the tenant and pass the filters? */
export function matches(row: Row, tenant: string, q: Pick<TaskListQuery, 'status' | 'task_type' | 'project_id'>): boolean {
  const [owner, type, project, status] = row;
  if (owner !== tenant) return false; // gone (null), or not this tenant's
  if (q.status !== undefined && (status ?? 'queued') !== q.status) return false;
  if (q.task_type !== undefined && type !== q.task_type) return false;
  if (q.project_id !== undefined && project !== q.project_id) return false;
  return true;
}

/** Pure: renders one list item from its record fields and callback delivery state. */
export function renderListItem(id: string, row: Row, deliveryState: string | null): TaskListItem {
  const [, type, project, rawStatus, rawProgress, created, finished, cb] = row;
  const status = ((TASK_STATUSES as readonly string[]).includes(rawStatus ?? '') ? rawStatus : 'queued') as TaskStatus;
  const terminal = TERMINAL.has(status);
  const progress = Number(rawProgress ?? 0);
  let callback_state: CallbackState = 'none';
  if (cb) callback_state = terminal && deliveryState !== null && DELIVERY_STATES.has(deliveryState) ? (deliveryState as CallbackState) : 'pending';
  return {
    task_id: id,
    task_type: type ?? '',
    project_id: project ? project : null,
    status,
    progress: Number.isFinite(progress) ? Math.min(100, Math.max(0, progress)) : 0,
    created_at: isoAt(created),
    completed_at: terminal ? isoAt(finished) : null,
    callback_state,
  };
}

function replies<T>(res: [Error | null, unknown][] | null): T[] {
  if (!res) throw new Error('Redis pipeline returned no reply');
  return res.map(([err, value]) => {
    if (err) throw err;
    return value as T;
  });
}

/** One page of the tenant's tasks, newest first. */
export async function listTasks(redis: Redis, keys: Keys, tenant: string, q: TaskListQuery): Promise<Page<TaskListItem>> {
  loadPageScript(redis);
  const cursor = decodeCursor(q.cursor);

  const load = async (entries: PageEntry[]): Promise<(TaskListItem | null)[]> => {
    if (entries.length === 0) return [];
    const read = redis.pipeline();
    for (const e of entries) read.hmget(keys.task(e.member), ...FIELDS);
    const rows = replies<Row>(await read.exec());
    const keep = rows.map((row) => matches(row, tenant, q));
    // The delivery state only matters for kept, finished tasks with a callback.
    const needState = entries.map((_, i) => {
      const row = rows[i] as Row;
      return keep[i] === true && Boolean(row[7]) && Boolean(row[8]) && TERMINAL.has(row[3] ?? '');
    });
    const states: (string | null)[] = entries.map(() => null);
    if (needState.some(Boolean)) {
      const stateRead = redis.pipeline();
      const at: number[] = [];
      needState.forEach((need, i) => {
        if (!need) return;
        at.push(i);
        stateRead.hget(keys.delivery((rows[i] as Row)[8] as string), 'state');
      });
      replies<string | null>(await stateRead.exec()).forEach((s, j) => {
        states[at[j] as number] = s;
      });
    }
    return entries.map((e, i) => (keep[i] ? renderListItem(e.member, rows[i] as Row, states[i] ?? null) : null));
  };

  return scanPage(redis, {
    key: tenantTasksKey(keys.prefix, tenant),
    cursor,
    limit: q.limit,
    minScore: q.since,
    load,
    maxScan: q.maxScan ?? 1000,
  });
}
