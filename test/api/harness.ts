/**
 * A real API on loopback: private redis-server, real producer, real
 * registry, `app.callback()` on an http server listening on 127.0.0.1:0.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Redis } from 'ioredis';
import { request, type Agent } from 'undici';
import { createApp, type AppDeps } from '../../src/api/app.js';
import { createFilesRouter } from '../../src/api/routes/files.js';
import type { AuthState } from '../../src/api/auth.js';
import { testConfig, type Config } from '../../src/config.js';
import { checkUrl, createEgressAgent, egressPolicyFromConfig } from '../../src/egress/index.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { createProducer, type Producer } from '../../src/queue/producer.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { registry } from '../../tasks/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

export const KEY_A = 'key-alpha-0123456789';
/** Configured only as its digest (`sha256:<hex>`). */
export const KEY_B = 'key-bravo-9876543210';
export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface Harness {
  /** The Koa app itself (for tests that inspect its routes). */
  app: Koa<AuthState>;
  base: string;
  config: Config;
  redis: TestRedis;
  client: Redis;
  keys: Keys;
  producer: Producer;
  shuttingDown: { value: boolean };
  /** The guarded egress agent, when asked for (`withEgress`). */
  egress?: Agent;
  close(): Promise<void>;
}

export interface HarnessOptions extends Pick<AppDeps, 'extraRouters' | 'metrics'> {
  /** The app's logger (to watch what a request logs). @default silentLogger() */
  logger?: Logger;
  /** Mount the files router as src/runtime/api-process.ts does (serving MEDIA_OUTPUT_DIR). */
  withFiles?: boolean;
  /** Give the app a guarded egress agent (for routes that send, e.g. webhook tests). */
  withEgress?: boolean;
  /** What the app submits through, given the real producer (to inject failures). */
  wrapProducer?(producer: Producer): Producer;
  /** Replaces the real callback URL check (to hold a request in flight). */
  checkCallbackUrl?: AppDeps['checkCallbackUrl'];
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export async function startApi(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  const redis = await startRedis();
  const config = testConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'tht',
    API_KEYS: `${KEY_A},sha256:${sha256hex(KEY_B)}`,
    ...env,
  });
  const client = redis.client();
  client.on('error', () => undefined);
  const keys = createKeys(config.REDIS_PREFIX);
  const producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: config.STALL_INTERVAL_MS });
  const policy = egressPolicyFromConfig(config);
  // No DNS traffic leaves the machine: every name "resolves" to one fixed public address,
  // except `internal.test`, which resolves to a private one.
  const lookup = async (host: string) => [{ address: host === 'internal.test' ? '10.1.2.3' : '93.184.215.14', family: 4 as const }];
  const egress = opts.withEgress ? createEgressAgent(policy, { lookup }) : undefined;
  const shuttingDown = { value: false };
  const app = createApp({
    config,
    logger: opts.logger ?? silentLogger(),
    registry,
    redis: client,
    keys,
    producer: opts.wrapProducer ? opts.wrapProducer(producer) : producer,
    checkCallbackUrl: opts.checkCallbackUrl ?? (async (url) => void (await checkUrl(url, policy, { lookup }))),
    isShuttingDown: () => shuttingDown.value,
    extraRouters: [...(opts.withFiles ? [createFilesRouter({ config, redis: client, keys })] : []), ...(opts.extraRouters ?? [])],
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(egress ? { egress } : {}),
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    config,
    redis,
    client,
    keys,
    producer,
    shuttingDown,
    ...(egress ? { egress } : {}),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await egress?.close();
      await producer.close();
      client.disconnect();
      await redis.destroy();
    },
  };
}

export interface CallOptions {
  key?: string | null;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string or Buffer. */
  body?: unknown;
}

/** One HTTP request; `key` defaults to KEY_A (null sends none). */
export async function call(h: Harness, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? KEY_A : opts.key;
  if (key !== null) headers['x-api-key'] = key;
  let body: string | Buffer | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, opts.headers);
  const res = await request(h.base + path, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON: tests assert on text */
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Asserts the RFC 9457 shape shared by every error answer; returns the body. */
export function expectProblem(r: Reply, status: number): Record<string, unknown> {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
  const type = String(r.headers['content-type']);
  if (!type.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${type}`);
  const p = r.json;
  if (p.status !== status || typeof p.title !== 'string' || typeof p.detail !== 'string' || typeof p.code !== 'string') {
    throw new Error(`not a problem body: ${r.text}`);
  }
  if (p.type !== `urn:taskhook:problem:${String(p.code)}`) throw new Error(`bad type: ${String(p.type)}`);
  if (/\bat .+\(|\.ts:\d+|node_modules|\/work\//.test(r.text)) throw new Error(`body leaks internals: ${r.text}`);
  return p;
}

/** The `field` of every `errors` entry. */
export function fields(p: Record<string, unknown>): string[] {
  return ((p.errors as { field: string }[] | undefined) ?? []).map((e) => e.field);
}
