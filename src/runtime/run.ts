/**
 * The three long-running process kinds, shared by the npm scripts
 * (`src/bin/*.ts`) and the `taskhook` CLI (`taskhook api|worker|all`), so both
 * start exactly the same thing. Each parses the config from the environment it
 * is given, starts, and installs the two-stage SIGTERM/SIGINT shutdown; the
 * process then lives until a signal. Callers load `.env` first.
 */
import { parseConfig } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { DependencyError } from '../errors.js';
import { createServices, type Services } from './services.js';
import { isLocalRedisUrl, redisServerInstalled, startLocalRedis } from './local-redis.js';
import { maskRedisUrl } from './redis-url.js';
import { onShutdownSignals } from './signals.js';
import { applyHeapGrowth } from './heap.js';
import { registry } from '../../tasks/index.js';

type Env = Record<string, string | undefined>;

// Each process kind loads only its own half: a worker never needs Koa, the
// dashboard or the OpenAPI document (~10 MiB of RSS), nor an API the worker code.
const apiProcess = () => import('./api-process.js');
const workerProcess = () => import('./worker-process.js');

/**
 * Signal handlers go in before anything starts, so a SIGTERM during start-up
 * also drains (what has started so far) instead of killing the process. Each
 * started part registers how to stop it; they stop in reverse order. The API
 * and the worker may each use the whole grace period, one after the other;
 * a drain past both plus 10 s is stuck and the process exits.
 */
function shutdownPlan(logger: Logger, graceMs: number): { add(stop: () => Promise<void>): void } {
  const stops: (() => Promise<void>)[] = [];
  onShutdownSignals(
    logger,
    async () => {
      for (const stop of stops.reverse()) await stop();
    },
    2 * graceMs + 10_000,
  );
  return { add: (stop) => void stops.push(stop) };
}

/** `npm run api` / `taskhook api`: the HTTP API alone. */
export async function runApi(env: Env = process.env): Promise<void> {
  const config = parseConfig(env);
  const logger = createLogger(config, 'taskhook-api');
  const plan = shutdownPlan(logger, config.SHUTDOWN_GRACE_MS);
  const services = await createServices(config, logger);
  plan.add(() => services.close());
  const { startApiProcess } = await apiProcess();
  const api = await startApiProcess(services, { registry, port: config.PORT, host: config.HOST });
  plan.add(() => api.close(config.SHUTDOWN_GRACE_MS));
}

export interface RunWorkerOptions {
  /** Comma-separated queues; overrides WORKER_QUEUES. */
  queues?: string;
  /** Jobs at once per queue; overrides WORKER_CONCURRENCY. */
  concurrency?: string;
}

/** `npm run worker` / `taskhook worker`: task consumers (and callback delivery). */
export async function runWorker(options: RunWorkerOptions = {}, env: Env = process.env): Promise<void> {
  const merged = { ...env };
  if (options.queues !== undefined) merged.WORKER_QUEUES = options.queues;
  if (options.concurrency !== undefined) merged.WORKER_CONCURRENCY = options.concurrency;
  const config = parseConfig(merged);
  applyHeapGrowth(config.WORKER_HEAP_GROWTH_PERCENT);
  const logger = createLogger(config, 'taskhook-worker');
  const plan = shutdownPlan(logger, config.SHUTDOWN_GRACE_MS);
  const services = await createServices(config, logger);
  plan.add(() => services.close());
  const { startWorkerProcess } = await workerProcess();
  const running = await startWorkerProcess(services, {
    queues: config.WORKER_QUEUES,
    concurrency: config.WORKER_CONCURRENCY,
    registry,
    deliver: config.WORKER_DELIVERS_CALLBACKS,
  });
  plan.add(() => running.close(config.SHUTDOWN_GRACE_MS));
}

/**
 * `npm start` / `taskhook all`: API and worker in one process, for
 * development. Starts a private redis-server when none answers locally and
 * one is installed.
 */
export async function runAll(env: Env = process.env): Promise<void> {
  const config = parseConfig(env);
  applyHeapGrowth(config.WORKER_HEAP_GROWTH_PERCENT);
  const logger = createLogger(config, 'taskhook');
  const plan = shutdownPlan(logger, config.SHUTDOWN_GRACE_MS);
  let services: Services;
  try {
    services = await createServices(config, logger);
  } catch (err) {
    if (!(err instanceof DependencyError) || err.code !== 'redis_unavailable') throw err;
    if (!isLocalRedisUrl(config.REDIS_URL) || !redisServerInstalled()) throw err;
    logger.info(`no Redis at ${maskRedisUrl(config.REDIS_URL)}; starting a local redis-server (data in ./data/redis)`);
    const child = await startLocalRedis(config.REDIS_URL, './data/redis');
    plan.add(async () => void child.kill('SIGTERM'));
    services = await createServices(config, logger);
  }
  const started = services;
  plan.add(() => started.close());
  const [{ startWorkerProcess }, { startApiProcess }] = await Promise.all([workerProcess(), apiProcess()]);
  const worker = await startWorkerProcess(services, {
    queues: config.WORKER_QUEUES,
    concurrency: config.WORKER_CONCURRENCY,
    registry,
    deliver: true,
  });
  plan.add(() => worker.close(config.SHUTDOWN_GRACE_MS));
  const api = await startApiProcess(services, { registry, port: config.PORT, host: config.HOST });
  plan.add(() => api.close(config.SHUTDOWN_GRACE_MS));
  const keyHint = config.production ? '' : ` (development API key: ${config.API_KEYS.includes('dev-key') ? '"dev-key"' : 'see API_KEYS'})`;
  logger.info(`taskhook is up: ${api.url}${keyHint}; dashboard at ${api.url}/dashboard, API reference at ${api.url}/docs`);
}
