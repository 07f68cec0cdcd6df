/**
 * `createApp(deps)`: the Koa application, with no `listen` (entry points and
 * tests call `app.callback()`). Order: problem+json errors, health (no key),
 * then the authenticated routes.
 */
import Koa from 'koa';
import type { Router } from '@koa/router';
import { Router as KoaRouter } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Producer } from '../queue/producer.js';
import type { Keys } from '../store/keys.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { authMiddleware, type AuthState } from './auth.js';
import { createIdempotency } from './idempotency.js';
import { rateLimitMiddleware } from './rate-limit.js';
import { problemMiddleware } from './problem.js';
import { healthRouter } from './routes/health.js';
import { openapiRouter } from './routes/openapi.js';
import { tasksRouter } from './routes/tasks.js';
import { taskControlRouter } from './routes/task-control.js';
import { webhooksRouter } from './routes/webhooks.js';
import { deliveriesRouter } from './routes/deliveries.js';
import { metricsRouter } from './routes/metrics.js';
import { dashboardRouter } from '../dashboard/router.js';
import type { Metrics } from '../metrics/metrics.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  registry: TaskRegistry;
  redis: Redis;
  keys: Keys;
  producer: Producer;
  /** Throws (DestinationBlockedError / ValidationError) when a callback URL may not be used. */
  checkCallbackUrl(url: string): Promise<void>;
  /** True once shutdown has begun: `/readyz` then answers 503. */
  isShuttingDown(): boolean;
  /** Mounted after auth (e.g. the media files router). */
  extraRouters?: Router[];
  /** The guarded egress agent (undici Dispatcher): sends `POST /webhooks/{id}/test`. */
  egress?: Dispatcher;
  /** Serves GET /metrics (behind the API key unless METRICS_PUBLIC) and counts submits. */
  metrics?: Metrics;
}


/** Socket errors that only mean the client went away (reset, closed mid-request): its doing, not ours. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

function clientWentAway(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && CLIENT_GONE.has(code)) || err.message === 'aborted';
}

export function createApp(deps: AppDeps): Koa<AuthState> {
  const app = new Koa<AuthState>({ proxy: false });
  // Errors are rendered and logged by problemMiddleware; only errors that
  // escape it (e.g. a failing response stream) arrive here. Koa also reports
  // every connection the client resets; those are not failures to page anyone for.
  app.on('error', (err: Error) => {
    if (clientWentAway(err)) deps.logger.debug('client went away', { error: err.message });
    else deps.logger.error('unhandled request error', { error: err.message, stack: err.stack });
  });

  app.use(problemMiddleware(deps.logger));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });

  // Auth is router-level middleware: @koa/router runs it only when one of
  // these routes matches, so an unknown path is a 404 with or without a key.
  const api = new KoaRouter<AuthState>();
  api.use(authMiddleware(deps.config.API_KEYS));
  if (deps.config.RATE_LIMIT_PER_MIN > 0) {
    api.use(
      rateLimitMiddleware({ redis: deps.redis, prefix: deps.keys.prefix, limitPerMin: deps.config.RATE_LIMIT_PER_MIN, logger: deps.logger }),
    );
  }
  const idempotency = createIdempotency({ redis: deps.redis, prefix: deps.keys.prefix, logger: deps.logger });
  api.use(tasksRouter({ ...deps, idempotency }).routes());
  api.use(taskControlRouter(deps).routes());
  api.use(webhooksRouter(deps).routes());
  api.use(deliveriesRouter(deps).routes());
  for (const extra of deps.extraRouters ?? []) api.use(extra.routes());
  // The task API first: it carries nearly all traffic, and every router in
  // front of it costs each request a failed route match.
  app.use(api.routes());
  app.use(api.allowedMethods());
  if (deps.metrics && !deps.config.METRICS_PUBLIC) {
    // Behind the key but not the rate limiter: a scrape must keep working
    // while Redis (where the limiter counts) is down, which is when it matters.
    const scrape = new KoaRouter<AuthState>();
    scrape.use(authMiddleware(deps.config.API_KEYS));
    scrape.use(metricsRouter(deps.metrics).routes());
    app.use(scrape.routes()).use(scrape.allowedMethods());
  }

  const health = healthRouter(deps);
  app.use(health.routes());
  app.use(health.allowedMethods());
  const openapi = openapiRouter(deps);
  app.use(openapi.routes()).use(openapi.allowedMethods());
  if (deps.metrics && deps.config.METRICS_PUBLIC) app.use(metricsRouter(deps.metrics).routes());
  app.use(dashboardRouter(deps).routes()); // its own login and session; see src/dashboard

  return app;
}
