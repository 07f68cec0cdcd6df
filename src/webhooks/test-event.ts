/**
 * `webhook.test`: sent at once from the API process (not through the
 * outbox) so the caller sees the receiver's answer, signed exactly as the
 * worker signs subscription deliveries, then recorded as a finished
 * delivery of the subscription (one attempt, never retried, not counted in
 * the subscription's stats, never a dead letter).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { AttemptRecord } from '../delivery/outbox.js';
import { sendAttempt } from '../delivery/send.js';
import { createSigner } from '../delivery/sign.js';
import type { Keys } from '../store/keys.js';
import { subscriptionMessageId } from '../store/keys.js';
import { TEST_EVENT } from './schemas.js';
import { signingSecrets, webhookKeys, type Subscription } from './store.js';

export interface TestEventDeps {
  redis: Redis;
  keys: Keys;
  /** The guarded egress agent: the SSRF policy is enforced on every connection. */
  egress: Dispatcher;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

export interface TestEventResult {
  delivery_id: string;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string;
  error: string | null;
  outcome: 'delivered' | 'failed' | 'blocked';
}

export const TEST_MESSAGE = 'This is a test event from taskhook.';

/** The body of a `webhook.test` event. */
export function testEventBody(webhookId: string, at: Date): string {
  return JSON.stringify({ type: TEST_EVENT, timestamp: at.toISOString(), data: { webhook_id: webhookId, message: TEST_MESSAGE } });
}

export async function sendTestEvent(deps: TestEventDeps, sub: Subscription): Promise<TestEventResult> {
  const started = (deps.now ?? Date.now)();
  const id = `test.${randomBytes(8).toString('hex')}.${sub.id}`;
  const msg = subscriptionMessageId(id);
  const body = testEventBody(sub.id, new Date(started));
  const secrets = signingSecrets(sub, started);
  const signer = createSigner(secrets.secret, secrets.previous === undefined ? {} : { previous: secrets.previous });
  // Custom headers first: the signature headers are taskhook's (names that would override them are refused at save).
  const headers = { ...sub.headers, ...signer.headers(msg, Math.floor(started / 1000), body) };
  const result = await sendAttempt({
    url: sub.url,
    body,
    headers,
    dispatcher: deps.egress,
    timeoutMs: deps.timeoutMs,
    maxResponseBytes: deps.maxResponseBytes,
  });
  const outcome: TestEventResult['outcome'] =
    result.error_kind === 'blocked' ? 'blocked' : result.error_kind === 'none' && result.status_code !== null ? 'delivered' : 'failed';
  const attempt: AttemptRecord & { response_headers: Record<string, string>; response_excerpt: string } = {
    n: 1,
    at: new Date(started).toISOString(),
    status_code: result.status_code,
    duration_ms: result.duration_ms,
    error: result.error,
    outcome,
    response_headers: result.response_headers,
    response_excerpt: result.response_excerpt,
  };
  const done = (deps.now ?? Date.now)();
  const wk = webhookKeys(deps.keys.prefix);
  await deps.redis
    .multi()
    .hset(deps.keys.delivery(id), {
      id,
      task: '',
      sub: sub.id,
      tenant: sub.tenant,
      url: sub.url,
      body,
      msg,
      event: TEST_EVENT,
      state: outcome === 'delivered' ? 'delivered' : 'failed',
      n: '1',
      created: String(started),
      next: String(started),
      done: String(done),
      secret: `sub:${sub.id}`,
      att: '1',
      'att:1': JSON.stringify(attempt),
    })
    .zadd(wk.deliveries(sub.id), started, id)
    .exec();
  return {
    delivery_id: id,
    status_code: result.status_code,
    duration_ms: result.duration_ms,
    response_excerpt: result.response_excerpt,
    error: result.error,
    outcome,
  };
}
