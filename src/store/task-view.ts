/**
 * The public view of a task (GET /api/v1/tasks/{id}): read from the task
 * record, its current callback delivery and that delivery's attempts.
 * Reading is one pipelined round trip in the common case; rendering is pure.
 */
import type { Redis } from 'ioredis';
import { redactUrl } from '../logger.js';
import { taskDeliveryId, type Keys } from './keys.js';
import { attemptRecords, epochMs, isRecord, isoAt, isoOf, parseJsonOr, renderAttempt, type AttemptView } from './fields.js';

export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type CallbackState = 'none' | 'pending' | 'delivering' | 'delivered' | 'failed';

export type CallbackAttemptView = AttemptView;

export interface TaskErrorView {
  message: string;
  error_type: string;
  traceback?: string;
}

export interface TaskView {
  task_id: string;
  task_type: string;
  project_id: string | null;
  status: TaskStatus;
  progress: number;
  result?: unknown;
  error?: TaskErrorView;
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  /** Seconds from start to finish. */
  processing_time: number | null;
  metadata: Record<string, unknown>;
  callback: { url: string | null; state: CallbackState; attempts: CallbackAttemptView[] };
}

const STATUSES: readonly string[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];
const DELIVERY_STATES: readonly string[] = ['pending', 'delivering', 'delivered', 'failed'];

function renderError(raw: string | undefined): TaskErrorView {
  const e = parseJsonOr<unknown>(raw, undefined);
  const o = isRecord(e) ? e : {};
  const view: TaskErrorView = {
    message: typeof o.error === 'string' ? o.error : typeof o.message === 'string' ? o.message : 'unknown error',
    error_type: typeof o.error_type === 'string' ? o.error_type : 'error',
  };
  if (typeof o.traceback === 'string') view.traceback = o.traceback;
  return view;
}

/**
 * Renders a task record (HGETALL), its current delivery (HGETALL, or null)
 * and the delivery's attempt list (JSON strings, oldest first). Pure, and
 * total: a corrupt field renders as null rather than throwing.
 */
export function renderTaskView(
  task: Record<string, string>,
  delivery: Record<string, string> | null,
  attempts: readonly string[],
): TaskView {
  const status = (STATUSES.includes(task.status ?? '') ? task.status : 'queued') as TaskStatus;
  const started = epochMs(task.started);
  const finished = epochMs(task.finished);
  const terminal = status === 'completed' || status === 'failed' || status === 'cancelled';
  const progress = Number(task.progress ?? 0);
  const meta = parseJsonOr<unknown>(task.meta, undefined);

  let callback: TaskView['callback'];
  if (!task.cb) {
    callback = { url: null, state: 'none', attempts: [] };
  } else if (!terminal || !delivery || !DELIVERY_STATES.includes(delivery.state ?? '')) {
    // No delivery exists until the task has an outcome.
    callback = { url: redactUrl(task.cb), state: 'pending', attempts: [] };
  } else {
    callback = {
      url: redactUrl(task.cb),
      state: delivery.state as CallbackState,
      attempts: attempts.map(renderAttempt),
    };
  }

  const view: TaskView = {
    task_id: task.id ?? '',
    task_type: task.type ?? '',
    project_id: task.project ? task.project : null,
    status,
    progress: Number.isFinite(progress) ? Math.min(100, Math.max(0, progress)) : 0,
    created_at: isoAt(task.created),
    started_at: isoOf(started),
    completed_at: terminal ? isoOf(finished) : null,
    processing_time: terminal && started !== null && finished !== null ? Math.max(0, finished - started) / 1000 : null,
    metadata: isRecord(meta) ? meta : {},
    callback,
  };
  if (status === 'completed') view.result = parseJsonOr<unknown>(task.result, null);
  if (status === 'failed') view.error = renderError(task.error);
  return view;
}

export interface StoredTaskView {
  /** Owner of the task; callers compare it with the requester's tenant. */
  tenant: string;
  view: TaskView;
}

type PipelineReplies = [Error | null, unknown][] | null;

function reply<T>(replies: PipelineReplies, i: number): T {
  const r = replies?.[i];
  if (!r) throw new Error('Redis pipeline returned no reply');
  if (r[0]) throw r[0];
  return r[1] as T;
}

/**
 * Reads a task's view, or null when there is no such task. Fetches the task
 * and, speculatively, the delivery of its first outcome in one pipeline;
 * only a task whose current delivery is a later generation costs a second
 * round trip.
 */
export async function readTaskView(redis: Redis, keys: Keys, taskId: string): Promise<StoredTaskView | null> {
  const guess = taskDeliveryId(taskId, 1);
  const first = await redis
    .pipeline()
    .hgetall(keys.task(taskId))
    .hgetall(keys.delivery(guess))
    .lrange(keys.attempts(guess), 0, -1)
    .exec();
  const task = reply<Record<string, string>>(first, 0);
  if (!task || Object.keys(task).length === 0) return null;

  let delivery: Record<string, string> | null = null;
  let attempts: string[] = [];
  const dlv = task.dlv;
  if (dlv === guess) {
    const d = reply<Record<string, string>>(first, 1);
    delivery = Object.keys(d).length > 0 ? d : null;
    attempts = attemptRecords(d, reply<string[]>(first, 2));
  } else if (dlv) {
    const second = await redis.pipeline().hgetall(keys.delivery(dlv)).lrange(keys.attempts(dlv), 0, -1).exec();
    const d = reply<Record<string, string>>(second, 0);
    delivery = Object.keys(d).length > 0 ? d : null;
    attempts = attemptRecords(d, reply<string[]>(second, 1));
  }
  return { tenant: task.tenant ?? '', view: renderTaskView(task, delivery, attempts) };
}
