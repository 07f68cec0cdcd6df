/**
 * Connecting to Redis at start-up: fail fast with a message a person can act
 * on (never hang, never a stack), then check that Redis cannot evict work.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import { DependencyError } from '../errors.js';
import type { Logger } from '../logger.js';
import { maskRedisUrl } from './redis-url.js';

export function redisHint(url: string): string {
  return [
    `No Redis answered at ${maskRedisUrl(url)}.`,
    'Start one, then try again:',
    '  - Debian/Ubuntu: sudo apt-get install -y redis-server && redis-server --daemonize yes',
    '  - macOS: brew install redis && brew services start redis',
    `  - Docker: docker run -d -p 6379:6379 redis:7 --appendonly yes --maxmemory-policy noeviction --hash-max-listpack-value ${RECOMMENDED_HASH_MAX_VALUE}`,
    'or point REDIS_URL at your Redis (e.g. REDIS_URL=redis://host:6379/0).',
  ].join('\n');
}

/** Redis refused the credentials (Redis 6+ says WRONGPASS, older ones "invalid password") or wants some (NOAUTH). */
function isAuthError(err: Error): boolean {
  return /^(NOAUTH|WRONGPASS)\b|^ERR invalid password/.test(err.message);
}

function authHint(url: string, err: Error): string {
  const shown = maskRedisUrl(url);
  return err.message.startsWith('NOAUTH')
    ? `Redis at ${shown} requires a password: put it in REDIS_URL (redis://:password@host:port, or redis://user:password@host:port).`
    : `Redis at ${shown} refused the user name or password in REDIS_URL (${err.message.split(' ')[0]}); check them.`;
}

/**
 * Resolves once connected; rejects with a DependencyError after `timeoutMs`:
 * `redis_auth_failed` when Redis answered but refused us (starting another
 * Redis would not help), otherwise `redis_unavailable`. `overrides` change
 * the client's options (a tool that must fail fast instead of waiting).
 */
export async function connectRedis(url: string, timeoutMs = 3000, overrides: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    // Commands wait for a reconnect (Redis restarts) instead of failing at once.
    maxRetriesPerRequest: null,
    connectTimeout: timeoutMs,
    retryStrategy: (n) => Math.min(50 * 2 ** n, 2000),
    // No auto-pipelining. The hot paths already send one script call per
    // event-loop turn (src/store/tick-batch.ts), and ioredis's auto-pipeline
    // keeps one pipeline in flight per client: a command issued while the
    // last batch was on its way waited for that round trip before it was even
    // written. Written at once, commands still share the connection and Redis
    // answers them in order: p99 submit → callback at 1,500/s 48 → 24 ms at
    // the same CPU per task (docs/benchmarks-history.md, change 26).
    enableAutoPipelining: false,
    ...overrides,
  });
  // The connect promise only says "Connection is closed"; the reason comes as an event.
  let refused: Error | null = null;
  const onError = (err: Error): void => {
    if (isAuthError(err)) refused = err;
  };
  redis.on('error', onError); // reconnects are logged by callers that care
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
    return redis;
  } catch (err) {
    redis.disconnect();
    if (refused) throw new DependencyError('redis_auth_failed', authHint(url, refused), refused);
    throw new DependencyError('redis_unavailable', redisHint(url), err);
  }
}

/**
 * Closes a client made by `connectRedis`: QUIT when connected (waiting at
 * most `timeoutMs`), otherwise drop the socket. Its commands wait for a
 * reconnect (`maxRetriesPerRequest: null`), so a QUIT sent while Redis is
 * down would wait forever and hold up a shutdown.
 */
export async function closeRedis(redis: Redis, timeoutMs = 2000): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), timeoutMs);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether a client has lost its connection (ioredis `reconnecting`, `close`,
 * `end`): its commands would wait in the offline queue until Redis is back,
 * so callers that must answer now refuse at once instead. (`connecting`, the
 * first connection, is left to their own timeouts.)
 */
export function redisConnectionLost(redis: Redis): boolean {
  return redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';
}

/**
 * Waits for `work`, a step of a drain that needs Redis, but not for Redis
 * itself: once `afterMs` have passed, it stops waiting as soon as `redis` is
 * not connected (checked every 50 ms). Its commands would wait for a
 * reconnect (`maxRetriesPerRequest: null`) and bee-queue's close for its own
 * timeouts. What is left undone is what a crash leaves, and is recovered the
 * same way: leases run out, bee-queue's stall check re-queues jobs, the
 * worker heartbeat expires.
 */
export function unlessRedisDown(redis: Redis, work: Promise<unknown>, afterMs = 0): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const check = (): void => {
      if (redis.status === 'ready') timer = setTimeout(check, 50);
      else done();
    };
    timer = setTimeout(check, afterMs);
    work.then(done, done);
  });
}

/** How long one try of `waitForRedis` waits for an answer. */
const ATTEMPT_TIMEOUT_MS = 500;

/**
 * Waits until a just-started redis-server at `url` answers PING (it answers
 * LOADING while replaying its AOF). Gives up after `timeoutMs`, or at once when
 * `failed()` says the process is gone (its message is the error).
 */
export async function waitForRedis(url: string, timeoutMs: number, failed: () => string | null = () => null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      // Each try is bounded: something that is not Redis may accept and never
      // answer, and `failed()` must still be asked (the server may be gone).
      await Promise.race([
        c.connect().then(() => c.ping()),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), ATTEMPT_TIMEOUT_MS).unref()),
      ]);
      return;
    } catch {
      const why = failed();
      if (why) throw new Error(why);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${maskRedisUrl(url)} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      c.disconnect();
    }
  }
}

export interface RedisSettings {
  maxmemoryPolicy: string | null;
  appendonly: string | null;
  save: string | null;
  /** `hash-max-listpack-value` (`hash-max-ziplist-value` before Redis 7), in bytes. */
  hashMaxValue: number | null;
}

/**
 * The `hash-max-listpack-value` taskhook's own Redis runs with, and the one
 * docs/operations.md recommends. A hash with any value longer than this
 * takes Redis's hashtable encoding: a delivery (its signed body is longer than
 * Redis's default of 64 bytes) then costs ~1.1 KB more, so a finished task
 * with a callback keeps ~2.8 KB instead of ~1.7 KB until retention removes
 * it, for no measurable CPU (docs/benchmarks.md, Memory).
 */
export const RECOMMENDED_HASH_MAX_VALUE = 2048;

/** Reads the settings that decide whether queued work can be lost, and the hash encoding's size limit. `null` = not readable (CONFIG disabled). */
export async function readRedisSettings(redis: Redis): Promise<RedisSettings> {
  const get = async (name: string): Promise<string | null> => {
    try {
      const r = (await redis.call('CONFIG', 'GET', name)) as string[];
      return r[1] ?? null;
    } catch {
      return null;
    }
  };
  // The pre-7 name: Redis 7 answers to it too.
  const [maxmemoryPolicy, appendonly, save, hashMax] = await Promise.all([get('maxmemory-policy'), get('appendonly'), get('save'), get('hash-max-ziplist-value')]);
  const hashMaxValue = hashMax === null || !/^\d+$/.test(hashMax) ? null : Number(hashMax);
  return { maxmemoryPolicy, appendonly, save, hashMaxValue };
}

/** Refuses (or warns) when Redis may evict keys: evicted jobs are lost work. */
export async function checkRedisSafety(redis: Redis, config: Pick<Config, 'REDIS_REQUIRE_NOEVICTION'>, logger: Logger): Promise<RedisSettings> {
  const s = await readRedisSettings(redis);
  if (s.maxmemoryPolicy !== null && s.maxmemoryPolicy !== 'noeviction') {
    const msg = `Redis maxmemory-policy is "${s.maxmemoryPolicy}": under memory pressure Redis may evict queued tasks and callbacks. Set "maxmemory-policy noeviction"`;
    if (config.REDIS_REQUIRE_NOEVICTION) {
      throw new DependencyError('redis_unsafe', `${msg}, or set REDIS_REQUIRE_NOEVICTION=false to start anyway.`);
    }
    logger.warn(`${msg}.`);
  }
  if (s.appendonly === 'no' && (s.save === '' || s.save === null)) {
    logger.warn('Redis has no persistence (appendonly no, no RDB snapshots): a Redis restart loses queued work. Use "appendonly yes" in production.');
  }
  if (s.hashMaxValue !== null && s.hashMaxValue < RECOMMENDED_HASH_MAX_VALUE) {
    logger.info(
      `Redis hash-max-listpack-value is ${s.hashMaxValue}: each finished task with a callback keeps ~1 KB more memory than with ${RECOMMENDED_HASH_MAX_VALUE} (docs/operations.md, Redis).`,
    );
  }
  return s;
}
