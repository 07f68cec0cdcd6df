/**
 * The API harness of test/api/harness.ts plus a guarded egress agent (so
 * `POST /webhooks/{id}/test` can reach a loopback receiver), and helpers to
 * seed deliveries in Redis the way the worker writes them.
 */
import type { Agent } from 'undici';
import { tenantOf } from '../../src/api/auth.js';
import { subscriptionMessageId } from '../../src/store/keys.js';
import { webhookKeys, type WebhookKeys } from '../../src/webhooks/store.js';
import { KEY_A, KEY_B, startApi, type Harness } from '../api/harness.js';

export const TENANT_A = tenantOf(KEY_A);
export const TENANT_B = tenantOf(KEY_B);

export interface WebhookHarness extends Harness {
  wk: WebhookKeys;
  egress: Agent;
}

export async function startWebhookApi(env: Record<string, string> = {}): Promise<WebhookHarness> {
  const h = await startApi({ RATE_LIMIT_PER_MIN: '0', ...env }, { withEgress: true });
  if (!h.egress) throw new Error('the harness was asked for an egress agent');
  return { ...h, egress: h.egress, wk: webhookKeys(h.config.REDIS_PREFIX) };
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
  const msg = subscriptionMessageId(d.id);
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
    // As record.lua writes them: a count and one field per attempt record.
    att: String(d.attempts?.length ?? 0),
    ...Object.fromEntries((d.attempts ?? []).map((a, i) => [`att:${i + 1}`, JSON.stringify(a)])),
  });
  if (d.sub) m.zadd(h.wk.deliveries(d.sub), d.created, d.id);
  if (d.deadAt !== undefined) m.zadd(h.wk.dead(d.tenant), d.deadAt, d.id);
  if (state === 'pending' || state === 'delivering') m.zadd(h.keys.due, d.created + 1000, d.id);
  await m.exec();
  return msg;
}
