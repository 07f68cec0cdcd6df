/**
 * The whole product in one test process (API + worker + delivery), on a
 * private Redis, plus helpers to talk to it like a client would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { testConfig, type Config } from '../../src/config.js';
import { silentLogger, createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/runtime/services.js';
import { startApiProcess, type RunningApi } from '../../src/runtime/api-process.js';
import { startWorkerProcess, type RunningWorker } from '../../src/runtime/worker-process.js';
import { registry } from '../../tasks/index.js';

export const API_KEY = 'test-key';

export interface StackOptions {
  redisUrl: string;
  env?: Record<string, string>;
  /** Start an in-process worker. @default true */
  worker?: boolean;
  queues?: string[];
}

export interface Stack {
  config: Config;
  services: Services;
  api: RunningApi;
  worker: RunningWorker | null;
  url: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Polls GET /api/v1/tasks/{id} until `pred` holds. */
  waitForTask(id: string, pred: (t: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export function stackEnv(redisUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    API_KEYS: API_KEY,
    WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    CALLBACK_ALLOWLIST: '127.0.0.0/8',
    REDIS_REQUIRE_NOEVICTION: 'true',
    PORT: '0',
    HOST: '127.0.0.1',
    // Tests poll GET /tasks/{id} many times a second; the limiter has its own tests.
    RATE_LIMIT_PER_MIN: '0',
    ...env,
  };
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const config = testConfig(stackEnv(opts.redisUrl, opts.env));
  const logger = process.env.TEST_LOGS ? createLogger({ LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' }) : silentLogger();
  const services = await createServices(config, logger);
  const worker =
    opts.worker === false
      ? null
      : await startWorkerProcess(services, { queues: opts.queues ?? config.WORKER_QUEUES, concurrency: config.WORKER_CONCURRENCY, registry, deliver: true });
  const api = await startApiProcess(services, { registry, port: 0, host: '127.0.0.1' });
  const auth = { 'x-api-key': API_KEY };
  const stack: Stack = {
    config,
    services,
    api,
    worker,
    url: api.url,
    async post(path, body, headers = {}) {
      const res = await request(`${api.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async get(path, headers = {}) {
      const res = await request(`${api.url}${path}`, { headers: { ...auth, ...headers } });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async waitForTask(id, pred, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, unknown> = {};
      while (Date.now() < deadline) {
        const r = await stack.get(`/api/v1/tasks/${id}`);
        last = r.json;
        if (r.status === 200 && pred(r.json)) return r.json;
        await sleep(50);
      }
      throw new Error(`task ${id} did not reach the expected state; last seen: ${JSON.stringify(last)}`);
    },
    async close() {
      await api.close(1000);
      await worker?.close(1000);
      await services.close();
    },
  };
  return stack;
}

/** A worker daemon in its own process (for crash tests): `node --import tsx src/bin/worker.ts`. */
export function spawnWorker(redisUrl: string, env: Record<string, string> = {}, args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/worker.ts', ...args], {
    env: { ...process.env, ...stackEnv(redisUrl, env), NODE_ENV: 'test', LOG_LEVEL: env.LOG_LEVEL ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return child;
}

/** Resolves when the child's output contains `text`. */
export function waitForOutput(child: ChildProcess, text: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`did not see "${text}" in child output:\n${seen}`)), timeoutMs);
    const on = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}
