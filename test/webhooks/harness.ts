/**
 * The API harness of test/api/harness.ts plus a guarded egress agent (so
 * `POST /webhooks/{id}/test` can reach a loopback receiver), and helpers to
 * seed deliveries in Redis the way the worker writes them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import { createApp } from '../../src/api/app.js';
import { tenantOf } from '../../src/api/auth.js';
import { testConfig } from '../../src/config.js';
import { checkUrl, createEgressAgent, egressPolicyFromConfig } from '../../src/egress/index.js';
import { silentLogger } from '../../src/logger.js';
import { createProducer } from '../../src/queue/producer.js';
import { createKeys } from '../../src/store/keys.js';
import { webhookMessageId } from '../../src/webhooks/deliveries.js';
import { webhookKeys, type WebhookKeys } from '../../src/webhooks/store.js';
import { registry } from '../../tasks/index.js';
import { KEY_A, KEY_B, sha256hex, type Harness } from '../api/harness.js';
import { startRedis } from '../helpers/redis.js';

export const TENANT_A = tenantOf(KEY_A);
export const TENANT_B = tenantOf(KEY_B);

export interface WebhookHarness extends Harness {
  wk: WebhookKeys;
  egress: Agent;
}

export async function startWebhookApi(env: Record<string, string> = {}): Promise<WebhookHarness> {
  const redis = await startRedis();
  const config = testConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'tht',
    API_KEYS: `${KEY_A},sha256:${sha256hex(KEY_B)}`,
    RATE_LIMIT_PER_MIN: '0',
    ...env,
  });
  const client = redis.client();
  client.on('error', () => undefined);
  const keys = createKeys(config.REDIS_PREFIX);
  const producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: config.STALL_INTERVAL_MS });
  const policy = egressPolicyFromConfig(config);
  // No DNS leaves the machine: `internal.test` is private, every other name public.
  const lookup = async (host: string) => [{ address: host === 'internal.test' ? '10.1.2.3' : '93.184.215.14', family: 4 as const }];
  const egress = createEgressAgent(policy, { lookup });
  const shuttingDown = { value: false };
  const app = createApp({
    config,
    logger: silentLogger(),
    registry,
    redis: client,
    keys,
    producer,
    checkCallbackUrl: async (url) => void (await checkUrl(url, policy, { lookup })),
    isShuttingDown: () => shuttingDown.value,
    egress,
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    config,
    redis,
    client,
    keys,
    wk: webhookKeys(config.REDIS_PREFIX),
    producer,
    egress,
    shuttingDown,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await egress.close();
      await producer.close();
      client.disconnect();
      await redis.destroy();
    },
  };
}

export interface SeedDelivery {
  id: string;
  tenant: string;
  /** Subscription id, or undefined for a task callback. */
  sub?: string;
  task?: string;
  event?: string;
  state?: 'pending' | 'delivering' | 'delivered' | 'failed';
  url?: string;
  created: number;
  /** Attempt JSON objects. */
  attempts?: Record<string, unknown>[];
  /** Also a dead letter of its tenant, failed at this time. */
  deadAt?: number;
}

/** Writes a delivery as the worker would (hash, attempts, subscription index, dead letters). */
export async function seedDelivery(h: WebhookHarness, d: SeedDelivery): Promise<string> {
  const msg = webhookMessageId(d.id);
  const state = d.state ?? 'failed';
  const m = h.client.multi().hset(h.keys.delivery(d.id), {
    id: d.id,
    task: d.task ?? '',
    tenant: d.tenant,
    url: d.url ?? 'https://hooks.example/in?token=s3cret',
    body: '{"type":"task.completed"}',
    msg,
    event: d.event ?? 'task.completed',
    state,
    n: String(d.attempts?.length ?? 0),
    created: String(d.created),
    next: String(d.created + 1000),
    ...(state === 'delivered' || state === 'failed' ? { done: String(d.created + 5000) } : {}),
    secret: d.sub ? `sub:${d.sub}` : 'default',
    ...(d.sub ? { sub: d.sub } : {}),
  });
  for (const a of d.attempts ?? []) m.rpush(h.keys.attempts(d.id), JSON.stringify(a));
  if (d.sub) m.zadd(h.wk.deliveries(d.sub), d.created, d.id);
  if (d.deadAt !== undefined) m.zadd(h.wk.dead(d.tenant), d.deadAt, d.id);
  if (state === 'pending' || state === 'delivering') m.zadd(h.keys.due, d.created + 1000, d.id);
  await m.exec();
  return msg;
}
