/**
 * Webhook subscription routes: CRUD, event types, secret rotation, the test
 * event and statistics. Everything is scoped to the requesting API key: a
 * subscription of another key answers the same 404 as a missing one.
 * Deliveries and replay live in routes/deliveries.ts.
 */
import { Router, type RouterContext } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { Config } from '../../config.js';
import { DependencyError, NotFoundError, TaskhookError, ValidationError, type FieldIssue } from '../../errors.js';
import { redactUrl, type Logger } from '../../logger.js';
import type { Keys } from '../../store/keys.js';
import type { TaskRegistry } from '../../tasks/registry.js';
import {
  DEFAULT_PAGE_LIMIT,
  EVENT_DESCRIPTIONS,
  createSubscriptionSchema,
  listQuerySchema,
  parseOr400,
  updateSubscriptionSchema,
  type SubscriptionFilter,
  type UpdateSubscriptionBody,
} from '../../webhooks/schemas.js';
import { readStats } from '../../webhooks/stats.js';
import { createSubscriptionStore, renderSubscription, type Subscription, type SubscriptionInput } from '../../webhooks/store.js';
import { sendTestEvent } from '../../webhooks/test-event.js';
import type { AuthState } from '../auth.js';
import { readJsonBody } from '../body.js';

export interface WebhooksRouteDeps {
  config: Config;
  logger: Logger;
  registry: TaskRegistry;
  redis: Redis;
  keys: Keys;
  /** Throws (DestinationBlockedError / ValidationError) when a URL may not be used. */
  checkCallbackUrl(url: string): Promise<void>;
  /** The guarded egress agent; without it `POST /webhooks/{id}/test` answers 503. */
  egress?: Dispatcher | undefined;
}

type Ctx = RouterContext<AuthState>;

/** The test event is sent while the client waits: never longer than this. */
export const TEST_TIMEOUT_CAP_MS = 15_000;

export function webhooksRouter(deps: WebhooksRouteDeps): Router<AuthState> {
  const { config, registry } = deps;
  const store = createSubscriptionStore(deps.redis, deps.keys.prefix);

  async function urlIssues(url: string | undefined): Promise<FieldIssue[]> {
    if (url === undefined) return [];
    try {
      await deps.checkCallbackUrl(url);
      return [];
    } catch (err) {
      const message = err instanceof TaskhookError && err.expose && err.status < 500 ? err.message : 'could not be checked against the egress policy';
      return [{ field: 'url', message }];
    }
  }

  function filterIssues(filter: SubscriptionFilter | null | undefined): FieldIssue[] {
    return (filter?.task_types ?? []).flatMap((t, i) =>
      registry.get(t) ? [] : [{ field: `filter.task_types.${i}`, message: `unknown task type ${JSON.stringify(t.slice(0, 128))}` }],
    );
  }

  /** Schema first, then the checks that need the egress policy and the registry; every problem in one 400. */
  async function checkBody<S extends z.ZodType<UpdateSubscriptionBody>>(raw: unknown, schema: S): Promise<z.output<S>> {
    const body = parseOr400(schema, raw);
    const filterProblems = filterIssues(body.filter);
    const issues = [...(await urlIssues(body.url)), ...filterProblems];
    if (issues.length > 0) {
      throw new ValidationError('The request is invalid; see errors.', issues, filterProblems.length > 0 ? { known_task_types: registry.names() } : {});
    }
    return body;
  }

  async function load(ctx: Ctx): Promise<Subscription> {
    const sub = await store.get(ctx.state.tenant, String(ctx.params.id ?? ''));
    if (!sub) throw new NotFoundError('Webhook');
    return sub;
  }

  function listEventTypes(ctx: Ctx): void {
    ctx.body = { event_types: Object.entries(EVENT_DESCRIPTIONS).map(([type, description]) => ({ type, description })) };
  }

  async function create(ctx: Ctx): Promise<void> {
    const body = await checkBody(await readJsonBody(ctx, config.MAX_BODY_BYTES), createSubscriptionSchema);
    const input: SubscriptionInput = {
      url: body.url,
      events: body.events,
      description: body.description ?? null,
      headers: body.headers ?? {},
      filter: body.filter ?? {},
      is_active: body.is_active ?? true,
    };
    const sub = await store.create(ctx.state.tenant, input);
    deps.logger.info('webhook subscription created', { webhook_id: sub.id, tenant: sub.tenant, url: redactUrl(sub.url) });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/webhooks/${sub.id}`);
    // The only answer (with rotate-secret's) that shows the secret.
    ctx.body = { ...renderSubscription(sub), secret: sub.secret };
  }

  async function list(ctx: Ctx): Promise<void> {
    const q = parseOr400(listQuerySchema, ctx.query, 'query');
    const page = await store.list(ctx.state.tenant, { limit: q.limit ?? DEFAULT_PAGE_LIMIT, cursor: q.cursor });
    ctx.body = { webhooks: page.items.map(renderSubscription), next_cursor: page.next_cursor };
  }

  async function show(ctx: Ctx): Promise<void> {
    ctx.body = renderSubscription(await load(ctx));
  }

  async function update(ctx: Ctx): Promise<void> {
    const id = String(ctx.params.id ?? '');
    // Existence first: another tenant's id is a 404 even with a bad body.
    await load(ctx);
    const body = await checkBody(await readJsonBody(ctx, config.MAX_BODY_BYTES), updateSubscriptionSchema);
    const patch: Partial<SubscriptionInput> = {};
    if (body.url !== undefined) patch.url = body.url;
    if (body.events !== undefined) patch.events = body.events;
    if (body.description !== undefined) patch.description = body.description;
    if (body.headers !== undefined) patch.headers = body.headers ?? {};
    if (body.filter !== undefined) patch.filter = body.filter ?? {};
    if (body.is_active !== undefined) patch.is_active = body.is_active;
    const sub = await store.update(ctx.state.tenant, id, patch);
    if (!sub) throw new NotFoundError('Webhook');
    deps.logger.info('webhook subscription updated', { webhook_id: id, fields: Object.keys(patch) });
    ctx.body = renderSubscription(sub);
  }

  async function remove(ctx: Ctx): Promise<void> {
    const id = String(ctx.params.id ?? '');
    if (!(await store.remove(ctx.state.tenant, id))) throw new NotFoundError('Webhook');
    deps.logger.info('webhook subscription deleted', { webhook_id: id });
    ctx.status = 204;
  }

  async function rotate(ctx: Ctx): Promise<void> {
    const id = String(ctx.params.id ?? '');
    const rotated = await store.rotateSecret(ctx.state.tenant, id, config.WEBHOOK_SECRET_OVERLAP_H * 3_600_000);
    if (!rotated) throw new NotFoundError('Webhook');
    deps.logger.info('webhook secret rotated', { webhook_id: id, previous_until: new Date(rotated.prevUntil).toISOString() });
    ctx.body = { secret: rotated.secret };
  }

  async function test(ctx: Ctx): Promise<void> {
    const sub = await load(ctx);
    if (!deps.egress) throw new DependencyError('egress_unavailable', 'No egress agent is configured in this API process.');
    const result = await sendTestEvent(
      {
        redis: deps.redis,
        keys: deps.keys,
        egress: deps.egress,
        timeoutMs: Math.min(config.CALLBACK_TIMEOUT_MS, TEST_TIMEOUT_CAP_MS),
        maxResponseBytes: config.CALLBACK_MAX_RESPONSE_BYTES,
      },
      sub,
    );
    deps.logger.info('webhook test event sent', {
      webhook_id: sub.id,
      url: redactUrl(sub.url),
      status_code: result.status_code,
      outcome: result.outcome,
    });
    ctx.body = result;
  }

  async function stats(ctx: Ctx): Promise<void> {
    const sub = await load(ctx);
    ctx.body = await readStats(deps.redis, deps.keys, sub.id);
  }

  const router = new Router<AuthState>();
  // Before `/webhooks/:id`, which would otherwise take "event-types" for an id.
  router.get('/api/v1/webhooks/event-types', listEventTypes);
  router.post('/api/v1/webhooks', create);
  router.get('/api/v1/webhooks', list);
  router.get('/api/v1/webhooks/:id', show);
  router.patch('/api/v1/webhooks/:id', update);
  router.delete('/api/v1/webhooks/:id', remove);
  router.post('/api/v1/webhooks/:id/rotate-secret', rotate);
  router.post('/api/v1/webhooks/:id/test', test);
  router.get('/api/v1/webhooks/:id/stats', stats);
  return router;
}
