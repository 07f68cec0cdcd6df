/**
 * `npm start`: API and worker in one process, for development. Starts a
 * private redis-server when none answers locally and one is installed.
 */
import type { ChildProcess } from 'node:child_process';
import { parseConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { DependencyError } from '../errors.js';
import { createServices, type Services } from '../runtime/services.js';
import { startApiProcess } from '../runtime/api-process.js';
import { startWorkerProcess } from '../runtime/worker-process.js';
import { isLocalRedisUrl, redisServerInstalled, startLocalRedis } from '../runtime/local-redis.js';
import { onShutdownSignals } from '../runtime/signals.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';
import { registry } from '../../tasks/index.js';

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const logger = createLogger(config, 'taskhook');
  let localRedis: ChildProcess | null = null;
  let services: Services;
  try {
    services = await createServices(config, logger);
  } catch (err) {
    if (!(err instanceof DependencyError) || err.code !== 'redis_unavailable') throw err;
    if (!isLocalRedisUrl(config.REDIS_URL) || !redisServerInstalled()) throw err;
    logger.info(`no Redis at ${config.REDIS_URL}; starting a local redis-server (data in ./data/redis)`);
    localRedis = await startLocalRedis(config.REDIS_URL, './data/redis');
    services = await createServices(config, logger);
  }
  const worker = await startWorkerProcess(services, {
    queues: config.WORKER_QUEUES,
    concurrency: config.WORKER_CONCURRENCY,
    registry,
    deliver: true,
  });
  const api = await startApiProcess(services, { registry, port: config.PORT, host: config.HOST });
  logger.info(`taskhook is up: ${api.url} (API key for development: see API_KEYS; default "dev-key")`);
  onShutdownSignals(logger, async () => {
    await Promise.all([api.close(config.SHUTDOWN_GRACE_MS), worker.close(config.SHUTDOWN_GRACE_MS)]);
    await services.close();
    localRedis?.kill('SIGTERM');
  });
}

loadDotEnv();
main().catch(fatal);
