/**
 * The delivery log and replay: a subscription's deliveries, one delivery,
 * the dead letters, resend (one delivery, every failed one of a
 * subscription since a time, or a task's own callback). Everything is
 * scoped to the requesting API key via the records' `tenant` fields.
 */
import { Router, type RouterContext } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { NotFoundError, TaskhookError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Keys } from '../../store/keys.js';
import { createDeliveryLog, type DeliveryFilter, type DeliveryView } from '../../webhooks/deliveries.js';
import { DEFAULT_PAGE_LIMIT, deadLettersQuerySchema, deliveriesQuerySchema, parseOr400, recoverSchema } from '../../webhooks/schemas.js';
import { createSubscriptionStore, type Subscription } from '../../webhooks/store.js';
import type { AuthState } from '../auth.js';
import { readJsonBody } from '../body.js';

export interface DeliveriesRouteDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  keys: Keys;
}

type Ctx = RouterContext<AuthState>;

const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FINISHED = new Set(['completed', 'failed', 'cancelled']);

function conflict(code: string, message: string): TaskhookError {
  return new TaskhookError(code, message, { status: 409 });
}

function filterOf(q: { status?: DeliveryFilter['status']; event?: string; since?: string; limit?: number; cursor?: string }): DeliveryFilter {
  return {
    status: q.status,
    event: q.event,
    since: q.since === undefined ? undefined : Date.parse(q.since),
    limit: q.limit ?? DEFAULT_PAGE_LIMIT,
    cursor: q.cursor,
  };
}

/** Resend and recover as plain functions of the tenant: the API routes and the dashboard share them. */
export interface DeliveryActions {
  /** The tenant's subscription, or a 404. */
  loadSub(tenant: string, id: string): Promise<Subscription>;
  /** Resends one delivery of the tenant (`what` names it in a 404); the routes answer 202 with it. */
  resend(tenant: string, id: string, what: string): Promise<DeliveryView>;
  /** Resends a finished task's own callback. */
  resendTaskCallback(tenant: string, taskId: string): Promise<DeliveryView>;
  /** Resends every failed delivery of an active subscription created since `since` (ISO 8601); returns how many. */
  recover(tenant: string, sub: Subscription, since: string): Promise<number>;
}

export function createDeliveryActions(deps: DeliveriesRouteDeps): DeliveryActions {
  const log = createDeliveryLog(deps.redis, deps.keys);
  const subs = createSubscriptionStore(deps.redis, deps.keys.prefix);

  async function loadSub(tenant: string, id: string): Promise<Subscription> {
    const sub = await subs.get(tenant, id);
    if (!sub) throw new NotFoundError('Webhook');
    return sub;
  }

  async function resend(tenant: string, id: string, what: string): Promise<DeliveryView> {
    const r = await log.resend(tenant, id);
    switch (r.kind) {
      case 'missing':
        throw new NotFoundError(what);
      case 'delivering':
        throw conflict('delivery_in_flight', 'An attempt of this delivery is in flight; try again when it has finished.');
      case 'subscription_gone':
        throw conflict('webhook_deleted', 'The webhook of this delivery was deleted; it cannot be resent.');
      case 'subscription_disabled':
        throw conflict('webhook_disabled', 'The webhook of this delivery is disabled; re-enable it (PATCH is_active=true) first.');
      case 'test_event':
        throw conflict('test_event_not_resendable', 'A webhook.test event is never resent; send a new one (POST /api/v1/webhooks/{id}/test).');
      case 'progress_closed':
        throw conflict('progress_closed', 'This task.progress event is closed: its task has finished, and no progress event follows the terminal one.');
      default:
        deps.logger.info('delivery resent', { delivery_id: id, tenant });
        return r.delivery;
    }
  }

  async function resendTaskCallback(tenant: string, rawTaskId: string): Promise<DeliveryView> {
    const taskId = rawTaskId.toLowerCase();
    const [owner, status, cb, dlv] = TASK_ID.test(taskId)
      ? await deps.redis.hmget(deps.keys.task(taskId), 'tenant', 'status', 'cb', 'dlv')
      : [null, null, null, null];
    // Another tenant's task is indistinguishable from one that does not exist.
    if (!owner || owner !== tenant) throw new NotFoundError('Task');
    if (!cb) throw new NotFoundError('The callback of this task');
    if (!FINISHED.has(status ?? '')) throw conflict('task_not_finished', 'The task has not finished yet; its callback is not due.');
    if (!dlv) throw new NotFoundError('The callback of this task');
    return resend(tenant, dlv, 'The callback of this task');
  }

  async function recover(tenant: string, sub: Subscription, since: string): Promise<number> {
    if (!sub.active) throw conflict('webhook_disabled', 'The webhook is disabled; re-enable it (PATCH is_active=true) first.');
    const resent = await log.recover(tenant, sub.id, Date.parse(since));
    deps.logger.info('webhook deliveries recovered', { webhook_id: sub.id, since, resent });
    return resent;
  }

  return { loadSub, resend, resendTaskCallback, recover };
}

export function deliveriesRouter(deps: DeliveriesRouteDeps): Router<AuthState> {
  const log = createDeliveryLog(deps.redis, deps.keys);
  const actions = createDeliveryActions(deps);

  function loadSub(ctx: Ctx): Promise<Subscription> {
    return actions.loadSub(ctx.state.tenant, String(ctx.params.id ?? ''));
  }

  /** Answers 202 with a resent delivery. */
  function accepted(ctx: Ctx, delivery: DeliveryView): void {
    ctx.status = 202;
    ctx.body = delivery;
  }

  async function listForWebhook(ctx: Ctx): Promise<void> {
    const sub = await loadSub(ctx);
    const q = parseOr400(deliveriesQuerySchema, ctx.query, 'query');
    const page = await log.listForSubscription(ctx.state.tenant, sub.id, filterOf(q));
    ctx.body = { deliveries: page.items, next_cursor: page.next_cursor };
  }

  async function listDead(ctx: Ctx): Promise<void> {
    const q = parseOr400(deadLettersQuerySchema, ctx.query, 'query');
    const page = await log.listDead(ctx.state.tenant, filterOf(q));
    ctx.body = { deliveries: page.items, next_cursor: page.next_cursor };
  }

  async function show(ctx: Ctx): Promise<void> {
    const view = await log.get(ctx.state.tenant, String(ctx.params.id ?? ''));
    if (!view) throw new NotFoundError('Delivery');
    ctx.body = view;
  }

  async function resend(ctx: Ctx): Promise<void> {
    accepted(ctx, await actions.resend(ctx.state.tenant, String(ctx.params.id ?? ''), 'Delivery'));
  }

  async function recover(ctx: Ctx): Promise<void> {
    const sub = await loadSub(ctx);
    const body = parseOr400(recoverSchema, await readJsonBody(ctx, deps.config.MAX_BODY_BYTES));
    const resent = await actions.recover(ctx.state.tenant, sub, body.since);
    ctx.status = 202;
    ctx.body = { resent };
  }

  async function resendTaskCallback(ctx: Ctx): Promise<void> {
    accepted(ctx, await actions.resendTaskCallback(ctx.state.tenant, String(ctx.params.task_id ?? '')));
  }

  const router = new Router<AuthState>();
  router.get('/api/v1/webhooks/:id/deliveries', listForWebhook);
  router.post('/api/v1/webhooks/:id/recover', recover);
  router.get('/api/v1/deliveries', listDead);
  router.get('/api/v1/deliveries/:id', show);
  router.post('/api/v1/deliveries/:id/resend', resend);
  router.post('/api/v1/tasks/:task_id/callback/resend', resendTaskCallback);
  return router;
}
