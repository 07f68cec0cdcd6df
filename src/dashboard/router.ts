/**
 * `GET /dashboard`: a small operations console on the API's own port. The
 * API key is exchanged once, at login, for a server-side session (cookie
 * `th_session`); the page then reads JSON endpoints under `/dashboard/api`
 * and acts through POSTs carrying the session's CSRF token. Actions call the
 * same functions as the API routes, so they behave exactly like the API.
 */
import { Router, type RouterContext } from '@koa/router';
import type { Next } from 'koa';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Config } from '../config.js';
import { NotFoundError, TaskhookError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Producer } from '../queue/producer.js';
import type { Keys } from '../store/keys.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { VERSION } from '../version.js';
import { keyDigests, matchKey } from '../api/auth.js';
import { readJsonBody } from '../api/body.js';
import { createTaskActions, taskListQuerySchema } from '../api/routes/task-control.js';
import { createDeliveryActions } from '../api/routes/deliveries.js';
import { parseOr400, recoverSchema } from '../webhooks/schemas.js';
import { createAssets } from './assets.js';
import { createDashboardData } from './data.js';
import { DASHBOARD_CSP, loginPage, shellPage } from './html.js';
import { rateLimitVerdict, windowCounter, windowKey } from '../api/rate-limit.js';
import {
  assertSameOrigin,
  clearSessionCookie,
  createSessionStore,
  csrfMatches,
  csrfRejected,
  readForm,
  readSessionCookie,
  setSessionCookie,
  type Session,
} from './session.js';

/** Wrong keys per client address per minute, over all API processes. */
const LOGIN_FAILURES_PER_MIN = 10;

export interface DashboardDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  keys: Keys;
  producer: Producer;
  registry: TaskRegistry;
}

export interface DashboardState {
  session?: Session;
}

type Ctx = RouterContext<DashboardState>;

const tasksQuerySchema = taskListQuerySchema.pick({ status: true, task_type: true, cursor: true }).extend({
  id: z.string().min(1).max(64).optional(),
});
const pageQuerySchema = z.strictObject({ cursor: z.string().min(1).max(512).optional() });
const webhookDeliveriesQuerySchema = pageQuerySchema.extend({ failed: z.enum(['0', '1']).optional() });

function notSignedIn(): TaskhookError {
  return new TaskhookError('unauthorized', 'Sign in to the dashboard first (POST /dashboard/login).', { status: 401 });
}

function readOnly(): TaskhookError {
  return new TaskhookError('dashboard_readonly', 'The dashboard is read-only (DASHBOARD_READONLY=true).', { status: 403 });
}

export function dashboardRouter(deps: DashboardDeps): Router<DashboardState> {
  const { config, redis, keys } = deps;
  const ttlMs = config.DASHBOARD_SESSION_TTL_MIN * 60_000;
  const digests = keyDigests(config.API_KEYS);
  const sessions = createSessionStore(redis, keys.prefix, ttlMs, digests);
  const loginFailures = windowCounter(redis, keys.prefix);
  const data = createDashboardData(redis, keys);
  const taskActions = createTaskActions(deps);
  const deliveryActions = createDeliveryActions(deps);
  const asset = createAssets();
  const startedAt = Date.now();
  const httpsPublic = config.PUBLIC_BASE_URL.startsWith('https:');

  const router = new Router<DashboardState>();

  // Every dashboard answer: strict CSP, never framed, never cached (assets set their own caching).
  router.use(async (ctx, next: Next) => {
    ctx.set('Content-Security-Policy', DASHBOARD_CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Cache-Control', 'no-store');
    ctx.state.session = (await sessions.get(readSessionCookie(ctx.get('Cookie')))) ?? undefined;
    await next();
  });

  function session(ctx: Ctx): Session {
    if (!ctx.state.session) throw notSignedIn();
    return ctx.state.session;
  }

  /** Guards an action: signed in, not read-only, same origin, right CSRF token (header or form field). */
  function actor(ctx: Ctx, formToken?: string): Session {
    const s = session(ctx);
    if (config.DASHBOARD_READONLY) throw readOnly();
    assertSameOrigin(ctx);
    if (!csrfMatches(s, ctx.get('X-CSRF-Token') || formToken)) throw csrfRejected();
    return s;
  }

  function html(ctx: Ctx, status: number, body: string): void {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = body;
  }

  function page(ctx: Ctx): void {
    const s = ctx.state.session;
    if (!s) return html(ctx, 200, loginPage({ version: VERSION }));
    html(ctx, 200, shellPage({ csrf: s.csrf, readonly: config.DASHBOARD_READONLY, version: VERSION, tenant: s.tenant }));
  }

  router.get('/dashboard', page);
  router.get('/dashboard/', page);
  router.get('/dashboard/login', (ctx) => {
    if (ctx.state.session) return ctx.redirect('/dashboard');
    html(ctx, 200, loginPage({ version: VERSION }));
  });

  router.post('/dashboard/login', async (ctx) => {
    assertSameOrigin(ctx);
    const form = await readForm(ctx);
    // Guessing keys through the form: after LOGIN_FAILURES_PER_MIN wrong keys from
    // one client address, it waits for the next minute. The key is matched
    // first (constant time, no I/O); a wrong one is then counted with one
    // atomic INCR (its window's TTL set in the same script) and answered by
    // that count, so parallel guesses cannot get more than the limit of 401s:
    // past it, wrong and right keys alike get the same 429, which tells a
    // guesser nothing. A right key only reads the count, so sign-ins of many
    // people behind one proxy address do not use up the budget.
    const t = Date.now();
    const subject = `login:${ctx.ip}`;
    const key = (form.get('api_key') ?? '').trim();
    const digest = key === '' ? null : matchKey(key, digests);
    const failures = digest === null ? await loginFailures(subject, t) : Number((await redis.get(windowKey(keys.prefix, subject, t))) ?? 0);
    if (failures > LOGIN_FAILURES_PER_MIN || (digest !== null && failures >= LOGIN_FAILURES_PER_MIN)) {
      const v = rateLimitVerdict(failures, LOGIN_FAILURES_PER_MIN, t);
      ctx.set('Retry-After', String(v.resetS));
      return html(ctx, 429, loginPage({ version: VERSION, error: `Too many failed sign-ins; try again in ${v.resetS} s.` }));
    }
    if (digest === null) {
      deps.logger.info('dashboard login refused', { ip: ctx.ip });
      return html(ctx, 401, loginPage({ version: VERSION, error: 'That API key is not valid.' }));
    }
    const { id } = await sessions.create(digest);
    setSessionCookie(ctx, id, ttlMs, httpsPublic);
    ctx.status = 303;
    ctx.redirect('/dashboard');
  });

  router.post('/dashboard/logout', async (ctx) => {
    const form = ctx.request.type === 'application/x-www-form-urlencoded' ? await readForm(ctx) : new URLSearchParams();
    if (ctx.state.session) {
      assertSameOrigin(ctx);
      if (!csrfMatches(ctx.state.session, ctx.get('X-CSRF-Token') || (form.get('csrf') ?? undefined))) throw csrfRejected();
      await sessions.destroy(readSessionCookie(ctx.get('Cookie')));
    }
    clearSessionCookie(ctx, httpsPublic);
    ctx.status = 303;
    ctx.redirect('/dashboard/login');
  });

  router.get('/dashboard/assets/:name', (ctx) => {
    const a = asset(String(ctx.params.name ?? ''));
    if (!a) throw new NotFoundError('Asset');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = a.type;
    ctx.body = a.body;
  });

  // Data: JSON, the session's tenant only.
  router.get('/dashboard/api/overview', async (ctx) => {
    const s = session(ctx);
    ctx.body = {
      version: VERSION,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      readonly: config.DASHBOARD_READONLY,
      task_types: deps.registry.names(),
      ...(await data.overview(s.tenant)),
    };
  });

  router.get('/dashboard/api/tasks', async (ctx) => {
    const s = session(ctx);
    const q = parseOr400(tasksQuerySchema, ctx.query, 'query');
    const page = await data.tasks(s.tenant, q);
    ctx.body = { tasks: page.items, next_cursor: page.next_cursor };
  });

  router.get('/dashboard/api/tasks/:task_id', async (ctx) => {
    const found = await data.task(session(ctx).tenant, String(ctx.params.task_id ?? ''));
    if (!found) throw new NotFoundError('Task');
    ctx.body = found;
  });

  router.get('/dashboard/api/deliveries', async (ctx) => {
    const s = session(ctx);
    const q = parseOr400(pageQuerySchema, ctx.query, 'query');
    const page = await data.deadLetters(s.tenant, q.cursor);
    ctx.body = { deliveries: page.items, next_cursor: page.next_cursor };
  });

  router.get('/dashboard/api/webhooks', async (ctx) => {
    ctx.body = { webhooks: await data.webhooks(session(ctx).tenant) };
  });

  router.get('/dashboard/api/webhooks/:id/deliveries', async (ctx) => {
    const s = session(ctx);
    const q = parseOr400(webhookDeliveriesQuerySchema, ctx.query, 'query');
    const page = await data.webhookDeliveries(s.tenant, String(ctx.params.id ?? ''), { failedOnly: q.failed === '1', cursor: q.cursor });
    if (!page) throw new NotFoundError('Webhook');
    ctx.body = { deliveries: page.items, next_cursor: page.next_cursor };
  });

  // Actions: the API's own functions, behind session, read-only switch and CSRF token.
  router.post('/dashboard/api/tasks/:task_id/retry', async (ctx) => {
    const s = actor(ctx);
    ctx.body = { task: await taskActions.retry(s.tenant, String(ctx.params.task_id ?? '')) };
    ctx.status = 202;
  });

  router.post('/dashboard/api/tasks/:task_id/cancel', async (ctx) => {
    const s = actor(ctx);
    const r = await taskActions.cancel(s.tenant, String(ctx.params.task_id ?? ''));
    ctx.body = { task: r.view };
    ctx.status = r.status;
  });

  router.post('/dashboard/api/tasks/:task_id/callback/resend', async (ctx) => {
    const s = actor(ctx);
    ctx.body = { delivery: await deliveryActions.resendTaskCallback(s.tenant, String(ctx.params.task_id ?? '')) };
    ctx.status = 202;
  });

  router.post('/dashboard/api/deliveries/:id/resend', async (ctx) => {
    const s = actor(ctx);
    ctx.body = { delivery: await deliveryActions.resend(s.tenant, String(ctx.params.id ?? ''), 'Delivery') };
    ctx.status = 202;
  });

  router.post('/dashboard/api/webhooks/:id/recover', async (ctx) => {
    const s = actor(ctx);
    const sub = await deliveryActions.loadSub(s.tenant, String(ctx.params.id ?? ''));
    const body = parseOr400(recoverSchema, await readJsonBody(ctx, config.MAX_BODY_BYTES));
    ctx.body = { resent: await deliveryActions.recover(s.tenant, sub, body.since) };
    ctx.status = 202;
  });

  return router;
}
