/**
 * Liveness and readiness; no API key needed. `/healthz` answers while the
 * process runs; `/readyz` only while Redis answers and no shutdown is under
 * way, so a load balancer stops sending work to a draining instance.
 */
import { Router } from '@koa/router';
import type { Redis } from 'ioredis';
import { DependencyError, TaskhookError } from '../../errors.js';

export interface HealthRouteDeps {
  redis: Redis;
  isShuttingDown(): boolean;
  /** Longest wait for PING. @default 2000 */
  pingTimeoutMs?: number;
}

async function ping(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then((r) => r === 'PONG'), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(deps: HealthRouteDeps): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (deps.isShuttingDown()) {
      throw new TaskhookError('shutting_down', 'The service is shutting down.', { status: 503 });
    }
    if (!(await ping(deps.redis, deps.pingTimeoutMs ?? 2000))) {
      throw new DependencyError('redis_unavailable', 'Redis did not answer PING.');
    }
    ctx.body = { status: 'ready' };
  });
  return router;
}
