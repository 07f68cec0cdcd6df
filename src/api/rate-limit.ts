/**
 * Per-API-key rate limit: a fixed one-minute window counted in Redis, so every
 * API process shares one budget per key. One round trip per request (a tiny
 * Lua script: INCR, and PEXPIRE on the window's first hit).
 *
 * A fixed window lets a client send up to twice the limit across a window
 * boundary; that is accepted in exchange for one counter and one round trip
 * on the hot path. With `RATE_LIMIT_PER_MIN=0` the middleware is not mounted.
 */
import type { Middleware } from 'koa';
import type { Redis } from 'ioredis';
import { DependencyError, TaskhookError, coerceError } from '../errors.js';
import { TIMED_OUT, within } from '../within.js';
import type { Logger } from '../logger.js';
import type { AuthState } from './auth.js';
import { redisConnectionLost } from '../runtime/redis.js';

export const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * KEYS[1] the window's counter
 * ARGV[1] TTL (ms): the rest of the window plus slack, so the key outlives its window but not by much
 * Returns the count including this request.
 */
const HIT_LUA = `
local n = redis.call("incr", KEYS[1])
if n == 1 then redis.call("pexpire", KEYS[1], ARGV[1]) end
return n
`;

const COMMAND = 'th_rate_limit_hit';

export class RateLimitedError extends TaskhookError {
  constructor(limit: number, retryAfterS: number) {
    super('rate_limited', `Too many requests: at most ${limit} per minute per API key.`, {
      status: 429,
      extra: { limit_per_minute: limit, retry_after_s: retryAfterS },
    });
  }
}

export interface RateLimitOptions {
  redis: Redis;
  /** `REDIS_PREFIX`; counters are `${prefix}:rl:{tenant}:{window}`. */
  prefix: string;
  /** Requests per minute per API key (> 0). */
  limitPerMin: number;
  logger: Logger;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** Longest a request waits for Redis to count it before the 503. @default 1000 */
  timeoutMs?: number;
}

/** The state after one request of a window: what the headers say and whether to refuse. */
export interface RateLimitVerdict {
  allowed: boolean;
  remaining: number;
  /** Whole seconds until the window ends (at least 1). */
  resetS: number;
}

/** Pure: reads a window's count (including this request). */
export function rateLimitVerdict(count: number, limit: number, nowMs: number): RateLimitVerdict {
  const resetS = Math.max(1, Math.ceil((RATE_LIMIT_WINDOW_MS - (nowMs % RATE_LIMIT_WINDOW_MS)) / 1000));
  return { allowed: count <= limit, remaining: Math.max(0, limit - count), resetS };
}

/** The counter of `subject` for the window that contains `t`. */
export function windowKey(prefix: string, subject: string, t: number): string {
  return `${prefix}:rl:${subject}:${Math.floor(t / RATE_LIMIT_WINDOW_MS)}`;
}

/**
 * One-minute window counters in Redis (`${prefix}:rl:{subject}:{window}`):
 * `hit(subject, t)` counts one request and returns the window's count so far.
 * Shared by the per-key API limit and the dashboard's login limit.
 */
export function windowCounter(redis: Redis, prefix: string): (subject: string, t: number) => Promise<number> {
  if (typeof (redis as unknown as Record<string, unknown>)[COMMAND] !== 'function') {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: HIT_LUA });
  }
  const run = (redis as unknown as Record<string, (k: string, ttl: number) => Promise<number>>)[COMMAND] as (k: string, ttl: number) => Promise<number>;
  return (subject, t) => run.call(redis, windowKey(prefix, subject, t), RATE_LIMIT_WINDOW_MS - (t % RATE_LIMIT_WINDOW_MS) + 1000);
}

/** Seconds a client is told to wait after a 503 `redis_unavailable`. */
const UNAVAILABLE_RETRY_AFTER_S = 5;

function redisUnavailable(why: string): DependencyError {
  return new DependencyError('redis_unavailable', `Rate limit not checked: ${why}.`);
}

/**
 * Router-level middleware, mounted after auth (it needs `ctx.state.tenant`).
 * Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` on every
 * answer; over the limit → 429 `rate_limited` with `Retry-After`. If Redis
 * answers with an error, the request is let through (logged): the limiter
 * protects Redis, it should not add a second way for Redis trouble to fail
 * requests. If Redis is not connected, or does not answer within
 * `timeoutMs`, the answer is a 503 `redis_unavailable` at once: the shared
 * client's commands wait for a reconnect, so the request would otherwise hang
 * here (and would only hang further down, every route needs Redis).
 */
export function rateLimitMiddleware(opts: RateLimitOptions): Middleware<AuthState> {
  const { redis, limitPerMin: limit, logger } = opts;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 1000;
  if (!Number.isInteger(limit) || limit <= 0) throw new RangeError(`limitPerMin must be a positive integer, got ${String(limit)}`);
  const hit = windowCounter(redis, opts.prefix);

  return async (ctx, next) => {
    const t = now();
    // Not sent at all once the connection is lost: it would wait in the
    // offline queue and count, after the reconnect, a request refused long ago.
    if (redisConnectionLost(redis)) {
      ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
      throw redisUnavailable(`Redis is not connected (${redis.status})`);
    }
    let count: number | typeof TIMED_OUT;
    try {
      count = await within(hit(ctx.state.tenant, t), timeoutMs);
    } catch (err) {
      logger.warn('rate limit check failed; request let through', { err: coerceError(err).message });
      return next();
    }
    if (count === TIMED_OUT) {
      ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
      throw redisUnavailable(`Redis did not answer within ${timeoutMs} ms`);
    }
    const v = rateLimitVerdict(count, limit, t);
    ctx.set('RateLimit-Limit', String(limit));
    ctx.set('RateLimit-Remaining', String(v.remaining));
    ctx.set('RateLimit-Reset', String(v.resetS));
    if (!v.allowed) {
      ctx.set('Retry-After', String(v.resetS));
      throw new RateLimitedError(limit, v.resetS);
    }
    await next();
  };
}

