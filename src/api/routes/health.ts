/**
 * Liveness and readiness; no API key needed. `/healthz` answers while the
 * process runs; `/readyz` only while Redis answers and no shutdown is under
 * way, so a load balancer stops sending work to a draining instance.
 */
import { Router } from '@koa/router';
import type { Redis } from 'ioredis';
import { DependencyError, TaskhookError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { renderProblem } from '../problem.js';
import { readRedisSettings, type RedisSettings } from '../../runtime/redis.js';
import { TIMED_OUT, within } from '../../within.js';

export interface HealthRouteDeps {
  redis: Redis;
  isShuttingDown(): boolean;
  /** Says when readiness changes (not on every probe). */
  logger?: Logger;
  /** Longest wait for PING. @default 2000 */
  pingTimeoutMs?: number;
  /** How long `/readyz` reuses the Redis settings it read (CONFIG GET is not free). @default 10000 */
  settingsTtlMs?: number;
}

/** What `/readyz` reports about Redis; `null` when Redis does not let us read it (CONFIG disabled). */
export interface RedisSafetyView {
  maxmemory_policy: string | null;
  appendonly: string | null;
}

/** Reads the Redis settings at most once per `ttlMs`; concurrent probes share one read. */
function cachedSettings(redis: Redis, ttlMs: number): () => Promise<RedisSafetyView> {
  let value: RedisSafetyView | null = null;
  let readAt = 0;
  let pending: Promise<RedisSafetyView> | null = null;
  const view = (s: RedisSettings): RedisSafetyView => ({ maxmemory_policy: s.maxmemoryPolicy, appendonly: s.appendonly });
  return () => {
    if (value !== null && Date.now() - readAt < ttlMs) return Promise.resolve(value);
    pending ??= readRedisSettings(redis)
      .then((s) => {
        value = view(s);
        readAt = Date.now();
        return value;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
}

/** `promise`'s value, or `fallback` when it fails or takes longer than `ms`. */
async function orWithin<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  const got = await within(promise.catch(() => fallback), ms);
  return got === TIMED_OUT ? fallback : got;
}

function ping(redis: Redis, timeoutMs: number): Promise<boolean> {
  return orWithin(redis.ping().then((r) => r === 'PONG'), timeoutMs, false);
}


export function healthRouter(deps: HealthRouteDeps): Router {
  const router = new Router();
  const settings = cachedSettings(deps.redis, deps.settingsTtlMs ?? 10_000);
  const unknown: RedisSafetyView = { maxmemory_policy: null, appendonly: null };
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  // Whether the last probe found Redis answering; logged only when it changes.
  let redisAnswered = true;
  // Its 503s are answered here rather than thrown: the error middleware logs
  // every failed request, and a load balancer probes every few seconds for as
  // long as Redis is down; readiness logs its changes instead.
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (deps.isShuttingDown()) {
      renderProblem(ctx, new TaskhookError('shutting_down', 'The service is shutting down.', { status: 503 }));
      return;
    }
    const answered = await ping(deps.redis, deps.pingTimeoutMs ?? 2000);
    if (answered !== redisAnswered) {
      redisAnswered = answered;
      if (answered) deps.logger?.info('ready again: Redis answers PING');
      else deps.logger?.warn('not ready: Redis did not answer PING; /readyz answers 503 until it does');
    }
    if (!answered) {
      renderProblem(ctx, new DependencyError('redis_unavailable', 'Redis did not answer PING.'));
      return;
    }
    // Reported, not judged: start-up already refused an evicting Redis (see checkRedisSafety).
    ctx.body = { status: 'ready', redis: await orWithin(settings(), deps.pingTimeoutMs ?? 2000, unknown) };
  });
  return router;
}
