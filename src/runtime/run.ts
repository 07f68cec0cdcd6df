/**
 * The three long-running process kinds, shared by the npm scripts
 * (`src/bin/*.ts`) and the `taskhook` CLI (`taskhook api|worker|all`), so both
 * start exactly the same thing. Each parses the config from the environment it
 * is given, starts, and installs the two-stage SIGTERM/SIGINT shutdown; the
 * process then lives until a signal. Callers load `.env` first.
 */
import { parseConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { DependencyError, coerceError } from '../errors.js';
import { createServices, type Services } from './services.js';
import { isLocalRedisUrl, redisServerInstalled, spawnLocalRedis } from './local-redis.js';
import { maskRedisUrl } from './redis-url.js';
import { onShutdownSignals, signalExitCode } from './signals.js';
import { applyHeapGrowth } from './heap.js';
import { registry } from '../../tasks/index.js';

type Env = Record<string, string | undefined>;

// Each process kind loads only its own half: a worker never needs Koa, the
// dashboard or the OpenAPI document (~10 MiB of RSS), nor an API the worker code.
const apiProcess = () => import('./api-process.js');
const workerProcess = () => import('./worker-process.js');

interface ShutdownPlan {
  /** Registers how to stop a part that has started (or is starting); parts stop in reverse order. */
  add(stop: () => Promise<void>): void;
  /**
   * Runs start-up. A failure stops what had started, then is thrown for the
   * caller to report. A signal during start-up drains what has started and
   * exits non-zero (the process never came up); start-up then ends quietly,
   * whatever the drain made fail.
   */
  start(steps: () => Promise<void>): Promise<void>;
}

/**
 * Signal handlers go in before anything starts, so a SIGTERM during start-up
 * also drains (what has started so far) instead of killing the process. Each
 * started part registers how to stop it; they stop in reverse order. The API
 * and the worker may each use the whole grace period, one after the other;
 * a drain past both plus 10 s is stuck and the process exits.
 */
function shutdownPlan(logger: Logger, graceMs: number): ShutdownPlan {
  const stops: (() => Promise<void>)[] = [];
  const deadlineMs = 2 * graceMs + 10_000;
  let phase: 'starting' | 'up' | 'stopping' = 'starting';
  let stopping: Promise<void> | null = null;
  // Pops, so a part that finishes starting while a drain runs is stopped too.
  // One failed stop does not keep the others (the private Redis last) from running.
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      let failed: unknown = null;
      for (let stop = stops.pop(); stop; stop = stops.pop()) {
        await stop().catch((err: unknown) => (failed ??= err));
      }
      if (failed !== null) throw failed;
    })());
  onShutdownSignals(
    logger,
    async (signal) => {
      const interrupted = phase === 'starting';
      phase = 'stopping';
      const began = Date.now();
      await stopAll();
      if (interrupted) logger.warn(`${signal} during start-up: stopped what had started`);
      // The last line of a clean stop, so logs tell a drain that finished from a process that was killed.
      else logger.info(`${signal}: drained and stopped in ${Date.now() - began} ms`);
      return interrupted ? signalExitCode(signal) : 0;
    },
    deadlineMs,
  );
  return {
    add: (stop) => void stops.push(stop),
    async start(steps) {
      try {
        await steps();
      } catch (err) {
        if (phase === 'stopping') return; // the drain is ending the process
        phase = 'stopping';
        const stopped = stopAll().catch((e: unknown) => logger.warn('stopping after a failed start failed', { err: coerceError(e).message }));
        await Promise.race([stopped, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
        throw err;
      }
      if (phase === 'starting') phase = 'up';
    },
  };
}

/** `npm run api` / `taskhook api`: the HTTP API alone. */
export async function runApi(env: Env = process.env): Promise<void> {
  const config = parseConfig(env);
  const logger = createLogger(config, 'taskhook-api');
  const plan = shutdownPlan(logger, config.SHUTDOWN_GRACE_MS);
  await plan.start(async () => {
    const services = await createServices(config, logger);
    plan.add(() => services.close());
    const { startApiProcess } = await apiProcess();
    const api = await startApiProcess(services, { registry, port: config.PORT, host: config.HOST });
    plan.add(() => api.close(config.SHUTDOWN_GRACE_MS));
  });
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
  await plan.start(async () => {
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
  });
}

/**
 * Services on REDIS_URL; when nothing answers at a local one and redis-server
 * is installed, on a private redis-server for the life of this process. Its
 * stop is registered before it is ready, so a signal or a failure from now on
 * stops it, and first, so it stops last: handing running tasks back needs it.
 */
async function servicesWithLocalRedis(config: Config, logger: Logger, plan: ShutdownPlan): Promise<Services> {
  try {
    return await createServices(config, logger);
  } catch (err) {
    if (!(err instanceof DependencyError) || err.code !== 'redis_unavailable') throw err;
    if (!isLocalRedisUrl(config.REDIS_URL) || !redisServerInstalled()) throw err;
  }
  logger.info(`no Redis at ${maskRedisUrl(config.REDIS_URL)}; starting a local redis-server (data in ./data/redis)`);
  const local = await spawnLocalRedis(config.REDIS_URL, './data/redis');
  plan.add(() => local.stop());
  await local.ready();
  return createServices(config, logger);
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
  await plan.start(async () => {
    const services = await servicesWithLocalRedis(config, logger, plan);
    plan.add(() => services.close());
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
  });
}
