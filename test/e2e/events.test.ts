/**
 * Subscription events through the real worker path. Subscriptions are
 * written to Redis in the documented layout (docs/architecture.md), as the
 * webhooks API does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { storedAttempts } from '../helpers/attempts.js';
import { startReceiver, type Receiver, type Received } from '../helpers/receiver.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { tenantOf } from '../../src/api/auth.js';
import { subscriptionEventSchema } from '../../src/delivery/events.js';

const SECRET_A = 'whsec_c3Vic2NyaXB0aW9uLXNlY3JldC1hLTAwMDAwMDA=';
const SECRET_OLD = 'whsec_b2xkLXN1YnNjcmlwdGlvbi1zZWNyZXQtMDAwMDA=';

interface SeedOptions {
  url: string;
  events?: string[];
  filter?: Record<string, unknown>;
  headers?: Record<string, string>;
  secret?: string;
  prevSecret?: string;
}

async function seedSubscription(stack: Stack, id: string, o: SeedOptions): Promise<void> {
  const { redis, keys } = stack.services;
  const tenant = tenantOf(API_KEY);
  const now = Date.now();
  await redis.hset(keys.webhook(id), {
    id,
    tenant,
    url: o.url,
    events: JSON.stringify(o.events ?? ['*']),
    description: '',
    headers: JSON.stringify(o.headers ?? {}),
    filter: JSON.stringify(o.filter ?? {}),
    active: '1',
    secret: o.secret ?? SECRET_A,
    prev_secret: o.prevSecret ?? '',
    prev_until: o.prevSecret ? String(now + 3_600_000) : '0',
    created: String(now),
    updated: String(now),
  });
  await redis.zadd(keys.tenantWebhooks(tenant), now, id);
}

function verifyWith(secret: string, r: Received): void {
  new Webhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}

describe('e2e: subscription events', function () {
  this.timeout(40_000);
  let redis: TestRedis;
  let stack: Stack;
  const receivers: Receiver[] = [];
  const receiver = async (): Promise<Receiver> => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  beforeEach(async () => {
    redis = await startRedis();
    stack = await startStack({
      redisUrl: redis.url,
      env: {
        PROGRESS_EVENT_INTERVAL_MS: '1000',
        WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
        WEBHOOK_ENDPOINT_CONCURRENCY: '2',
        CALLBACK_TIMEOUT_MS: '3000',
        WORKER_CONCURRENCY: '20',
      },
    });
  });
  afterEach(async () => {
    await stack.close();
    for (const r of receivers.splice(0)) await r.close();
    await redis.destroy();
  });

  it('sends task.started, task.progress and task.completed, signed with the subscription secret and with its custom headers', async () => {
    const r = await receiver();
    await seedSubscription(stack, 'wh_all', { url: `${r.url}/events`, headers: { 'x-team': 'media' } });
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 600 }, metadata: { m: 1 } });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'completed');
    await sleep(300);
    const types = r.received.map((x) => x.json.type);
    expect(types[0]).to.equal('task.started');
    expect(types[types.length - 1]).to.equal('task.completed');
    for (const got of r.received) {
      verifyWith(SECRET_A, got);
      expect(got.headers['x-team']).to.equal('media');
      subscriptionEventSchema.parse(got.json);
    }
    const done = r.received[r.received.length - 1];
    expect((done?.json.data as Record<string, unknown>).task_id).to.equal(id);
    expect((done?.json.data as Record<string, unknown>).metadata).to.deep.equal({ m: 1 });
  });

  it('coalesces task.progress to at most one per second per endpoint, and sends none after the terminal event', async () => {
    const r = await receiver();
    await seedSubscription(stack, 'wh_prog', { url: r.url, events: ['task.progress', 'task.completed'] });
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 3200 } });
    await stack.waitForTask(String(res.json.task_id), (t) => t.status === 'completed', 15_000);
    await sleep(1500);
    const progress = r.received.filter((x) => x.json.type === 'task.progress');
    const terminal = r.received.findIndex((x) => x.json.type === 'task.completed');
    expect(progress.length).to.be.within(2, 5);
    for (let i = 1; i < progress.length; i += 1) {
      expect((progress[i]?.at ?? 0) - (progress[i - 1]?.at ?? 0)).to.be.at.least(900);
    }
    expect(terminal).to.equal(r.received.length - 1);
    expect(new Set(progress.map((p) => p.headers['webhook-id'])).size).to.equal(progress.length);
  });

  it('filters by event and task type', async () => {
    const a = await receiver();
    const b = await receiver();
    await seedSubscription(stack, 'wh_fail_only', { url: a.url, events: ['task.failed'] });
    await seedSubscription(stack, 'wh_echo_done', { url: b.url, events: ['task.completed'], filter: { task_types: ['debug.echo'] } });
    const ok = await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    const bad = await stack.post('/api/v1/tasks', { task_type: 'debug.fail', task_data: { message: 'x' } });
    await stack.waitForTask(String(ok.json.task_id), (t) => t.status === 'completed');
    await stack.waitForTask(String(bad.json.task_id), (t) => t.status === 'failed');
    await sleep(500);
    expect(a.received.map((x) => [x.json.type, (x.json.data as { task_id: string }).task_id])).to.deep.equal([['task.failed', bad.json.task_id]]);
    expect(b.received.map((x) => [x.json.type, (x.json.data as { task_id: string }).task_id])).to.deep.equal([['task.completed', ok.json.task_id]]);
  });

  it('during a rotation overlap signs with both secrets, and each verifies', async () => {
    const r = await receiver();
    await seedSubscription(stack, 'wh_rot', { url: r.url, events: ['task.completed'], prevSecret: SECRET_OLD });
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    const [got] = await r.waitFor(1);
    if (!got) throw new Error('no event');
    expect(String(got.headers['webhook-signature']).split(' ')).to.have.length(2);
    verifyWith(SECRET_A, got);
    verifyWith(SECRET_OLD, got);
  });

  it('disables a subscription at once when its endpoint answers 410 Gone', async () => {
    const r = await receiver();
    r.script([], 410);
    await seedSubscription(stack, 'wh_gone', { url: r.url, events: ['task.completed'] });
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    await r.waitFor(1);
    await sleep(300);
    const sub = await stack.services.redis.hgetall(stack.services.keys.webhook('wh_gone'));
    expect(sub.active).to.equal('0');
    expect(sub.disabled_reason).to.match(/410/);
    await sleep(1200); // the matcher's cache expires; later tasks are not sent to it
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    await sleep(700);
    expect(r.received).to.have.length(1);
  });

  it('disables a subscription that keeps failing with no success for longer than WEBHOOK_DISABLE_AFTER_H', async () => {
    const r = await receiver();
    r.script([], 500);
    await seedSubscription(stack, 'wh_stale', { url: r.url, events: ['task.completed'] });
    // It has been failing for 73 hours already (the window is 72).
    await stack.services.redis.hset(stack.services.keys.webhook('wh_stale'), 'failing_since', String(Date.now() - 73 * 3_600_000));
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    await r.waitFor(1);
    await sleep(300);
    const sub = await stack.services.redis.hgetall(stack.services.keys.webhook('wh_stale'));
    expect(sub.active).to.equal('0');
    expect(sub.disabled_reason).to.match(/no successful delivery/);
  });

  it('a success clears the failing window', async () => {
    const r = await receiver();
    await seedSubscription(stack, 'wh_ok', { url: r.url, events: ['task.completed'] });
    await stack.services.redis.hset(stack.services.keys.webhook('wh_ok'), 'failing_since', String(Date.now() - 3_600_000));
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    await r.waitFor(1);
    await sleep(300);
    const sub = await stack.services.redis.hgetall(stack.services.keys.webhook('wh_ok'));
    expect(sub).to.include({ active: '1', failing_since: '' });
  });

  it('retries on WEBHOOK_RETRY_SCHEDULE, then lists the delivery as a dead letter with its attempts and stats', async () => {
    const r = await receiver();
    r.script([], 503);
    await seedSubscription(stack, 'wh_dead', { url: r.url, events: ['task.completed'] });
    await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    const got = await r.waitFor(3, 10_000);
    expect((got[1]?.at ?? 0) - (got[0]?.at ?? 0)).to.be.at.least(95);
    expect((got[2]?.at ?? 0) - (got[1]?.at ?? 0)).to.be.at.least(195);
    await sleep(300);
    const { redis: rc, keys } = stack.services;
    const dead = await rc.zrange(keys.dead(tenantOf(API_KEY)), 0, -1);
    expect(dead).to.have.length(1);
    const attempts = (await storedAttempts(rc, keys, dead[0] as string)).map((a) => JSON.parse(a) as { status_code: number; response_excerpt?: string });
    expect(attempts.map((a) => a.status_code)).to.deep.equal([503, 503, 503]);
    expect(attempts[0]?.response_excerpt).to.equal('nope');
    const stats = await rc.hgetall(`${keys.webhook('wh_dead')}:stats`);
    expect(stats).to.include({ total: '1', failed: '1' });
  });

  it('isolates endpoints: one that hangs does not delay another', async () => {
    const slow = await receiver();
    const fast = await receiver();
    slow.script([], 'hang');
    await seedSubscription(stack, 'wh_slow', { url: slow.url, events: ['task.completed'] });
    await seedSubscription(stack, 'wh_fast', { url: fast.url, events: ['task.completed'] });
    const t0 = Date.now();
    for (let i = 0; i < 20; i += 1) await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    await fast.waitFor(20, 10_000);
    expect(Date.now() - t0).to.be.below(2500);
    // The hanging endpoint never holds more than its cap at once.
    expect(slow.received.length).to.be.at.most(2 + 1);
  });
});
