/**
 * Task routes: submit (single and batch) and status. Every check runs before
 * anything is queued: a batch with one bad element queues nothing.
 */
import { Router, type RouterContext } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { NotFoundError, TaskhookError, ValidationError, type FieldIssue } from '../../errors.js';
import type { IdempotentSubmit, NewTask, Producer, SubmittedTask } from '../../queue/producer.js';
import type { Keys } from '../../store/keys.js';
import { readTaskView } from '../../store/task-view.js';
import type { TaskRegistry } from '../../tasks/registry.js';
import type { AuthState } from '../auth.js';
import { readJsonBody } from '../body.js';
import type { Idempotency, IdempotencyClaim } from '../idempotency.js';
import type { Metrics } from '../../metrics/metrics.js';
import { newTraceparent, parseTraceparent } from '../../trace.js';
import { MAX_BATCH_TASKS, batchEnvelopeSchema, taskBodySchema, zodIssues, type BodyLimits } from '../schemas.js';
import { isRecord } from '../../store/fields.js';

export interface TasksRouteDeps {
  config: Config;
  registry: TaskRegistry;
  redis: Redis;
  keys: Keys;
  producer: Producer;
  checkCallbackUrl(url: string): Promise<void>;
  /** Honours `Idempotency-Key` on the submit routes; without it the header is ignored. */
  idempotency?: Idempotency;
  metrics?: Metrics;
}

const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Ctx = RouterContext<AuthState>;
type Checked = { issues: FieldIssue[]; unknownType: boolean; task?: Omit<NewTask, 'traceparent'> };
/** A 202 answer to a submit: its body and, for a single task, its Location. */
type Answer = { body: Record<string, unknown>; location?: string };

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

export function tasksRouter(deps: TasksRouteDeps): Router<AuthState> {
  const { config, registry, producer } = deps;
  const limits: BodyLimits = { metadataMaxBytes: config.METADATA_MAX_BYTES, metadataMaxDepth: config.METADATA_MAX_DEPTH };
  const taskSchema = taskBodySchema(limits);
  const batchSchema = batchEnvelopeSchema(limits);

  /** Issues for a callback URL the egress policy refuses (or that cannot be checked). */
  async function callbackIssues(url: string | null | undefined, field: string): Promise<FieldIssue[]> {
    if (!url) return [];
    try {
      await deps.checkCallbackUrl(url);
      return [];
    } catch (err) {
      const message =
        err instanceof TaskhookError && err.expose && err.status < 500 ? err.message : 'could not be checked against the egress policy';
      return [{ field, message }];
    }
  }

  /** Validates one task body (`prefix` is `''` or `tasks.N`): shape, task type, task_data, callback_url. */
  async function checkTask(raw: unknown, prefix: string): Promise<Checked> {
    const parsed = taskSchema.safeParse(raw);
    const issues = parsed.success ? [] : zodIssues(parsed.error, prefix);
    let unknownType = false;
    // The task type and its data are checked even when other fields are bad, so one answer names every problem.
    const type = isRecord(raw) && typeof raw.task_type === 'string' ? raw.task_type : undefined;
    const def = type === undefined ? undefined : registry.get(type);
    const typeField = join(prefix, 'task_type');
    if (type !== undefined && !def && !issues.some((i) => i.field === typeField)) {
      issues.push({ field: typeField, message: `unknown task type ${JSON.stringify(type.slice(0, 128))}` });
      unknownType = true;
    }
    const data = isRecord(raw) ? (raw.task_data ?? {}) : undefined;
    // task_data the body schema refused (too deep) never reaches the task's own schema, which may recurse.
    const dataField = join(prefix, 'task_data');
    if (def && isRecord(data) && !issues.some((i) => i.field === dataField)) {
      const res = await def.input.safeParseAsync(data);
      if (!res.success) issues.push(...zodIssues(res.error, dataField));
    }
    issues.push(...(await callbackIssues(parsed.success ? parsed.data.callback_url : null, join(prefix, 'callback_url'))));
    if (issues.length > 0 || !parsed.success || !def) return { issues, unknownType };
    const b = parsed.data;
    return {
      issues,
      unknownType,
      task: {
        task_type: def.name,
        queue: def.queue,
        // Stored as given: the worker parses it again with the same schema.
        task_data: b.task_data ?? {},
        callback_url: b.callback_url ?? null,
        metadata: b.metadata ?? {},
        project_id: b.project_id ?? null,
        options: b.options ?? {},
      },
    };
  }

  function fail(issues: FieldIssue[], unknownType: boolean): never {
    const extra = unknownType ? { known_task_types: registry.names() } : {};
    throw new ValidationError('The request is invalid; see errors.', issues, extra);
  }

  /** The request's traceparent, or a new one: every task belongs to a trace. */
  function traceparent(ctx: Ctx): { traceparent: string } {
    const tp = parseTraceparent(ctx.get('traceparent')) ?? newTraceparent();
    ctx.set('traceparent', tp);
    return { traceparent: tp };
  }

  /** Runs a submit once per Idempotency-Key (when configured and sent). */
  async function once(ctx: Ctx, scope: string, raw: unknown, handler: (claim: IdempotencyClaim | null) => Promise<void>): Promise<void> {
    if (deps.idempotency) await deps.idempotency.run(ctx, scope, raw, handler);
    else await handler(null);
  }

  /**
   * The claim, with the answer `answer` will give, for the producer to store
   * in the same step as it queues the tasks.
   */
  function idempotent(claim: IdempotencyClaim | null, answer: (queued: readonly SubmittedTask[]) => Answer): IdempotentSubmit | undefined {
    if (!claim) return undefined;
    return {
      ...claim,
      answer: (queued) => {
        const a = answer(queued);
        return { status: 202, body: JSON.stringify(a.body), location: a.location ?? '' };
      },
    };
  }

  async function submitOne(ctx: Ctx): Promise<void> {
    const raw = await readJsonBody(ctx, config.MAX_BODY_BYTES);
    // `/tasks` and `/tasks/submit` are one endpoint: they share a scope.
    await once(ctx, 'task', raw, (claim) => queueOne(ctx, raw, claim));
  }

  /** Queues one task; with a claim, the producer's script also stores the answer. */
  async function queueOne(ctx: Ctx, raw: unknown, claim: IdempotencyClaim | null): Promise<void> {
    const checked = await checkTask(raw, '');
    if (!checked.task) fail(checked.issues, checked.unknownType);
    const taskType = checked.task.task_type;
    const answer = (queued: readonly SubmittedTask[]): Answer => {
      const [q] = queued;
      if (!q) throw new Error('producer returned no task');
      return {
        location: `/api/v1/tasks/${q.task_id}`,
        body: { task_id: q.task_id, status: 'queued', task_type: taskType, created_at: q.created_at },
      };
    };
    const queued = await producer.submit(ctx.state.tenant, [{ ...checked.task, ...traceparent(ctx) }], idempotent(claim, answer));
    deps.metrics?.tasksSubmitted.inc({ task_type: taskType });
    const a = answer(queued);
    ctx.status = 202;
    if (a.location) ctx.set('Location', a.location);
    ctx.body = a.body;
  }

  async function submitBatch(ctx: Ctx): Promise<void> {
    const raw = await readJsonBody(ctx, config.MAX_BODY_BYTES);
    await once(ctx, 'batch', raw, (claim) => queueBatch(ctx, raw, claim));
  }

  async function queueBatch(ctx: Ctx, raw: unknown, claim: IdempotencyClaim | null): Promise<void> {
    const envelope = batchSchema.safeParse(raw);
    const envelopeIssues = envelope.success ? [] : zodIssues(envelope.error);
    // The elements and the shared callback_url are checked even when the rest of
    // the envelope is bad, so one answer names every problem. Not the elements of
    // an oversized `tasks`: that is already wrong, and each check costs.
    const rawTasks = isRecord(raw) && Array.isArray(raw.tasks) && raw.tasks.length <= MAX_BATCH_TASKS ? (raw.tasks as unknown[]) : [];
    const rawUrl = isRecord(raw) && typeof raw.callback_url === 'string' ? raw.callback_url : null;
    const urlToCheck = envelopeIssues.some((i) => i.field === 'callback_url') ? null : rawUrl;
    const results = await Promise.all([
      callbackIssues(urlToCheck, 'callback_url'),
      ...rawTasks.map((t, i) => checkTask(t, `tasks.${i}`)),
    ]);
    const [sharedIssues, ...checked] = results as [FieldIssue[], ...Checked[]];
    const issues = [...envelopeIssues, ...sharedIssues, ...checked.flatMap((c) => c.issues)];
    const unknownType = checked.some((c) => c.unknownType);
    if (!envelope.success || issues.length > 0) fail(issues, unknownType);
    const { tasks, callback_url: sharedUrl, metadata: sharedMeta } = envelope.data;
    const trace = traceparent(ctx);
    const newTasks: NewTask[] = checked.map((c, i) => {
      const own = tasks[i] as Record<string, unknown>;
      const task = c.task as Omit<NewTask, 'traceparent'>;
      return {
        ...task,
        // The batch's callback_url and metadata apply to tasks that give none.
        callback_url: own.callback_url == null ? (sharedUrl ?? null) : task.callback_url,
        metadata: own.metadata == null ? (sharedMeta ?? {}) : task.metadata,
        ...trace,
      };
    });
    const answer = (queued: readonly SubmittedTask[]): Answer => ({ body: { tasks: queued.map((q) => ({ task_id: q.task_id, status: 'queued' })) } });
    const queued = await producer.submit(ctx.state.tenant, newTasks, idempotent(claim, answer));
    for (const t of newTasks) deps.metrics?.tasksSubmitted.inc({ task_type: t.task_type });
    ctx.status = 202;
    ctx.body = answer(queued).body;
  }

  async function getTask(ctx: Ctx): Promise<void> {
    const id = String(ctx.params.task_id ?? '').toLowerCase();
    // Another tenant's task is indistinguishable from one that does not exist.
    const found = TASK_ID.test(id) ? await readTaskView(deps.redis, deps.keys, id) : null;
    if (!found || found.tenant !== ctx.state.tenant) throw new NotFoundError('Task');
    ctx.body = found.view;
  }

  /** What this build can run (`registry.names()` in the same order). */
  function listTaskTypes(ctx: Ctx): void {
    ctx.body = {
      task_types: registry.all().map((d) => ({
        name: d.name,
        queue: d.queue,
        description: d.description ?? null,
        timeout_s: Math.ceil(d.timeoutMs / 1000),
      })),
    };
  }

  const router = new Router<AuthState>();
  router.get('/api/v1/task-types', listTaskTypes);
  router.post('/api/v1/tasks', submitOne);
  router.post('/api/v1/tasks/submit', submitOne);
  router.post('/api/v1/tasks/batch', submitBatch);
  router.get('/api/v1/tasks/:task_id', getTask);
  return router;
}
