/**
 * The real app for the OpenAPI tests, wired like src/runtime/api-process.ts
 * (files router as an extra router, a metrics registry) on a private Redis,
 * listening on 127.0.0.1:0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { createApp } from '../../src/api/app.js';
import type { AuthState } from '../../src/api/auth.js';
import { createFilesRouter } from '../../src/api/routes/files.js';
import { testConfig, type Config } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createProducer, type Producer } from '../../src/queue/producer.js';
import { createKeys } from '../../src/store/keys.js';
import { registry } from '../../tasks/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

export const API_KEY = 'openapi-test-key-0123456789';

export interface TestApp {
  app: Koa<AuthState>;
  base: string;
  config: Config;
  close(): Promise<void>;
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const redis: TestRedis = await startRedis();
  const config = testConfig({ REDIS_URL: redis.url, REDIS_PREFIX: 'tho', API_KEYS: API_KEY, MEDIA_OUTPUT_DIR: '/nonexistent-openapi-test', ...env });
  const client: Redis = redis.client();
  client.on('error', () => undefined);
  const keys = createKeys(config.REDIS_PREFIX);
  const producer: Producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: config.STALL_INTERVAL_MS });
  const app = createApp({
    config,
    logger: silentLogger(),
    registry,
    redis: client,
    keys,
    producer,
    // No callback_url is sent by these tests; nothing may leave the machine anyway.
    checkCallbackUrl: async () => undefined,
    isShuttingDown: () => false,
    metrics: createMetrics({ defaults: false }),
    extraRouters: [createFilesRouter({ config })],
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    config,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await producer.close();
      client.disconnect();
      await redis.destroy();
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One request; `key: false` sends no API key. */
export async function send(t: TestApp, method: string, path: string, opts: { key?: boolean; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.key !== false) headers['x-api-key'] = API_KEY;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(t.base + path, {
    method: method as 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}
