/**
 * Task control and listing: cancel, retry, and the tenant's task list.
 * Every route is tenant-checked: another key's task is a 404 exactly like an
 * unknown one. Outcomes still go through the finish script, so a cancel that
 * races a worker can never produce two outcomes (or two callbacks).
 */
import { Router, type RouterContext } from '@koa/router';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { QUEUE_NAMES, type Config, type QueueName } from '../../config.js';
import { NotFoundError, TaskhookError, ValidationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { NewTask, Producer } from '../../queue/producer.js';
import { createTaskControl } from '../../store/control.js';
import type { Keys } from '../../store/keys.js';
import { TASK_STATUSES, listTasks } from '../../store/task-list.js';
import { createTaskStore } from '../../store/task-store.js';
import { readTaskView, type TaskView } from '../../store/task-view.js';
import { createSubscriptionMatcher } from '../../delivery/subscriptions.js';
import { createFinisher } from '../../worker/finisher.js';
import type { AuthState } from '../auth.js';
import { zodIssues } from '../schemas.js';

export interface TaskControlRouteDeps {
  config: Pick<Config, 'CALLBACK_INCLUDE_TRACEBACK'>;
  logger: Logger;
  redis: Redis;
  keys: Keys;
  producer: Producer;
}

type Ctx = RouterContext<AuthState>;

const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const DEFAULT_TASK_PAGE = 20;
export const MAX_TASK_PAGE = 100;

export const taskListQuerySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  task_type: z.string().min(1).max(128).optional(),
  project_id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'at most 128 characters of A-Z a-z 0-9 _ . : -').optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z
    .string()
    .regex(/^\d{1,6}$/, 'must be a positive integer')
    .transform(Number)
    .refine((n) => n >= 1, 'must be at least 1')
    // Clamped, not refused, as for every other listing.
    .transform((n) => Math.min(n, MAX_TASK_PAGE))
    .optional(),
  cursor: z.string().min(1).max(512).optional(),
});

function conflict(code: string, message: string, status: string): TaskhookError {
  return new TaskhookError(code, message, { status: 409, extra: { task_status: status } });
}

function parseOptions(raw: string | null | undefined): NewTask['options'] {
  try {
    const o = JSON.parse(raw ?? '{}') as unknown;
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as NewTask['options']) : {};
  } catch {
    return {};
  }
}

/** Cancel and retry as plain functions of (tenant, task id): the API routes and the dashboard share them. */
export interface TaskActions {
  /** 200 with the view when the task was queued and is now cancelled; 202 when its worker was told to stop. 404/409 as the routes. */
  cancel(tenant: string, taskId: string): Promise<{ status: 200 | 202; view: TaskView }>;
  /** Queues a failed or cancelled task again; returns its view (the routes answer 202). */
  retry(tenant: string, taskId: string): Promise<TaskView>;
}

export function createTaskActions(deps: TaskControlRouteDeps): TaskActions {
  const { redis, keys, producer } = deps;
  const control = createTaskControl(redis, keys);
  const finisher = createFinisher({
    config: deps.config,
    store: createTaskStore(redis, keys),
    subscriptions: createSubscriptionMatcher(redis, keys),
    // The API sends nothing itself: the deliveries are due at once for the workers' dispatchers.
    dispatcher: null,
  });

  /** The task, when it is one of this tenant's tasks; otherwise a 404. */
  async function ownTask(tenant: string, rawId: string): Promise<{ id: string; queue: string; opts: string | null }> {
    const id = rawId.toLowerCase();
    const [owner, queue, opts] = TASK_ID.test(id) ? await redis.hmget(keys.task(id), 'tenant', 'queue', 'opts') : [null, null, null];
    if (owner === null || owner !== tenant) throw new NotFoundError('Task');
    return { id, queue: queue ?? '', opts: opts ?? null };
  }

  async function view(id: string): Promise<TaskView> {
    const found = await readTaskView(redis, keys, id);
    if (!found) throw new NotFoundError('Task');
    return found.view;
  }

  async function cancel(tenant: string, taskId: string): Promise<{ status: 200 | 202; view: TaskView }> {
    const task = await ownTask(tenant, taskId);
    const verdict = await control.requestCancel(task.id);
    switch (verdict) {
      case 'missing':
        throw new NotFoundError('Task');
      case 'completed':
      case 'failed':
      case 'cancelled':
        throw conflict('task_finished', `The task has already finished (${verdict}); it cannot be cancelled.`, verdict);
      case 'running':
        // Its worker was told over pub/sub; it ends the task as cancelled when the handler stops.
        deps.logger.info('cancel requested for a running task', { task_id: task.id, tenant });
        return { status: 202, view: await view(task.id) };
      default: {
        // Queued: the job goes first, so no retry can add a new one that this would remove.
        if ((QUEUE_NAMES as readonly string[]).includes(task.queue)) await producer.removeJob(task.queue as QueueName, task.id);
        const fields = await redis.hgetall(keys.task(task.id));
        // A worker that took the job meanwhile sees the flag and ends it itself; only one outcome is written.
        const written = await finisher.finish(fields, { status: 'cancelled' }, deps.logger.child({ task_id: task.id }));
        if (written === 'missing') throw new NotFoundError('Task');
        return { status: 200, view: await view(task.id) };
      }
    }
  }

  async function retry(tenant: string, taskId: string): Promise<TaskView> {
    const task = await ownTask(tenant, taskId);
    if (!(QUEUE_NAMES as readonly string[]).includes(task.queue)) throw new Error(`task ${task.id} has an unknown queue`);
    const r = await producer.retry({ id: task.id, queue: task.queue as QueueName, options: parseOptions(task.opts) });
    if ('status' in r) {
      if (r.status === 'missing') throw new NotFoundError('Task');
      throw conflict('task_not_retryable', `Only a failed or cancelled task can be retried; this one is ${r.status}.`, r.status);
    }
    deps.logger.info('task retried', { task_id: task.id, gen: r.gen, tenant });
    return view(task.id);
  }

  return { cancel, retry };
}

export function taskControlRouter(deps: TaskControlRouteDeps): Router<AuthState> {
  const { redis, keys } = deps;
  const actions = createTaskActions(deps);

  async function cancel(ctx: Ctx): Promise<void> {
    const r = await actions.cancel(ctx.state.tenant, String(ctx.params.task_id ?? ''));
    ctx.status = r.status;
    ctx.body = r.view;
  }

  async function retry(ctx: Ctx): Promise<void> {
    const view = await actions.retry(ctx.state.tenant, String(ctx.params.task_id ?? ''));
    ctx.status = 202;
    ctx.set('Location', `/api/v1/tasks/${view.task_id}`);
    ctx.body = view;
  }

  async function list(ctx: Ctx): Promise<void> {
    const parsed = taskListQuerySchema.safeParse(ctx.query);
    if (!parsed.success) throw new ValidationError('The query is invalid; see errors.', zodIssues(parsed.error));
    const q = parsed.data;
    const page = await listTasks(redis, keys, ctx.state.tenant, {
      status: q.status,
      task_type: q.task_type,
      project_id: q.project_id,
      since: q.since === undefined ? undefined : Date.parse(q.since),
      limit: q.limit ?? DEFAULT_TASK_PAGE,
      cursor: q.cursor,
    });
    ctx.body = { tasks: page.items, next_cursor: page.next_cursor };
  }

  const router = new Router<AuthState>();
  router.get('/api/v1/tasks', list);
  router.post('/api/v1/tasks/:task_id/cancel', cancel);
  router.post('/api/v1/tasks/:task_id/retry', retry);
  return router;
}
