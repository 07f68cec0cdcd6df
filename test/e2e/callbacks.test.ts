/**
 * Submit over HTTP → worker → signed callback to a real receiver, through the
 * real path (API, Redis, bee-queue, worker, outbox, undici).
 */
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { expectValidSignatures, TEST_SECRET } from '../helpers/signatures.js';
import { verifyCallback } from '../../src/delivery/verify.js';
import { taskCompletedPayloadSchema, taskFailedPayloadSchema } from '../../src/delivery/payload.js';

describe('e2e: task → signed callback', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;

  before(async () => {
    redis = await startRedis();
    stack = await startStack({ redisUrl: redis.url, env: { CALLBACK_BACKOFF_MS: '100', CALLBACK_TIMEOUT_MS: '500' } });
  });
  after(async () => {
    await stack.close();
    await redis.destroy();
  });
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('delivers task.completed with the standard payload, echoed metadata and valid signatures', async () => {
    const metadata = { order: 42, nested: { tags: ['a', 'b'] }, note: 'ünïcode' };
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.echo',
      task_data: { hello: 'world' },
      callback_url: `${receiver.url}/hooks/done?token=secret-token`,
      metadata,
      project_id: 'proj-1',
    });
    expect(res.status).to.equal(202);
    const taskId = String(res.json.task_id);
    expect(res.headers.location).to.equal(`/api/v1/tasks/${taskId}`);

    const [got] = await receiver.waitFor(1);
    if (!got) throw new Error('no callback');
    expect(got.path).to.equal('/hooks/done?token=secret-token');
    expect(got.headers['content-type']).to.equal('application/json');
    expect(String(got.headers['user-agent'])).to.match(/^taskhook\/\d+\.\d+\.\d+/);
    expectValidSignatures(got);
    const payload = taskCompletedPayloadSchema.parse(got.json);
    expect(payload).to.include({ event: 'task.completed', task_id: taskId, project_id: 'proj-1', task_type: 'debug.echo', status: 'completed' });
    expect(payload.result).to.deep.equal({ hello: 'world' });
    expect(payload.metadata).to.deep.equal(metadata);
    expect(payload.processing_time).to.be.a('number').and.at.least(0);
    expect(Date.parse(payload.completed_at)).to.be.closeTo(Date.now(), 10_000);

    const task = await stack.waitForTask(taskId, (t) => (t.callback as { state: string }).state === 'delivered');
    expect(task.status).to.equal('completed');
    const cb = task.callback as { url: string; attempts: { n: number; status_code: number }[] };
    expect(cb.url).to.equal(`${receiver.url}/hooks/done`);
    expect(cb.attempts).to.have.length(1);
    expect(cb.attempts[0]).to.include({ n: 1, status_code: 200 });
  });

  it('delivers task.failed with error, error_type and traceback when the handler throws', async () => {
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.fail',
      task_data: { message: 'disk on fire', code: 'disk_error' },
      callback_url: receiver.url,
      metadata: { k: 1 },
    });
    const taskId = String(res.json.task_id);
    const [got] = await receiver.waitFor(1);
    if (!got) throw new Error('no callback');
    expectValidSignatures(got);
    const payload = taskFailedPayloadSchema.parse(got.json);
    expect(payload).to.include({ event: 'task.failed', task_id: taskId, status: 'failed', error: 'disk on fire', error_type: 'disk_error' });
    expect(payload.traceback).to.be.a('string').and.include('disk on fire');
    expect(payload.metadata).to.deep.equal({ k: 1 });
    const task = await stack.waitForTask(taskId, (t) => t.status === 'failed');
    expect(task.error).to.deep.include({ message: 'disk on fire', error_type: 'disk_error' });
  });

  it('ends a task that outlives its timeout as failed with error_type "timeout"', async () => {
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.sleep',
      task_data: { ms: 10_000 },
      callback_url: receiver.url,
      options: { timeout_s: 1 },
    });
    const [got] = await receiver.waitFor(1, 10_000);
    if (!got) throw new Error('no callback');
    expect(got.json).to.include({ event: 'task.failed', task_id: res.json.task_id, error_type: 'timeout' });
  });

  it('retries 500, 500 then delivers on attempt 3 with the same webhook-id and doubling gaps', async () => {
    receiver.script([500, 500], 200);
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    const got = await receiver.waitFor(3);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).to.equal(1);
    const gap1 = (got[1]?.at ?? 0) - (got[0]?.at ?? 0);
    const gap2 = (got[2]?.at ?? 0) - (got[1]?.at ?? 0);
    expect(gap1).to.be.at.least(95);
    expect(gap2).to.be.at.least(195);
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'delivered');
    const attempts = (task.callback as { attempts: { status_code: number }[] }).attempts.map((a) => a.status_code);
    expect(attempts).to.deep.equal([500, 500, 200]);
  });

  it('does not retry a 400 and marks the callback failed; the task stays completed', async () => {
    receiver.script([400], 200);
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'failed');
    expect(task.status).to.equal('completed');
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.received).to.have.length(1);
  });

  it('times out a receiver that never answers, then retries until it answers', async () => {
    receiver.script(['hang', 'hang'], 200);
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'delivered');
    const attempts = (task.callback as { attempts: { status_code: number | null; error: string | null; duration_ms: number }[] }).attempts;
    expect(attempts).to.have.length(3);
    expect(attempts[0]?.status_code).to.equal(null);
    expect(attempts[0]?.error).to.match(/timed? ?out/i);
    expect(attempts[0]?.duration_ms).to.be.at.least(450);
    expect(attempts[2]?.status_code).to.equal(200);
  });

  it('gives up after CALLBACK_MAX_RETRIES retries and keeps the failure visible', async () => {
    receiver.script([], 503);
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'failed', 20_000);
    expect((task.callback as { attempts: unknown[] }).attempts).to.have.length(4);
    expect(receiver.received).to.have.length(4);
  });

  it('runs a delayed task only after delay_s', async () => {
    const t0 = Date.now();
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url, options: { delay_s: 1 } });
    expect(res.status).to.equal(202);
    const [got] = await receiver.waitFor(1, 10_000);
    expect((got?.at ?? 0) - t0).to.be.at.least(950);
  });

  it('retries a failing task options.retries times and calls back once, with the final failure', async () => {
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.fail',
      task_data: { message: 'flaky' },
      callback_url: receiver.url,
      options: { retries: 1 },
    });
    const [got] = await receiver.waitFor(1, 15_000);
    expect(got?.json).to.include({ event: 'task.failed', task_id: res.json.task_id, error: 'flaky' });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).to.have.length(1);
    const raw = await stack.services.redis.hget(stack.services.keys.task(String(res.json.task_id)), 'runs');
    expect(raw).to.equal('2');
  });

  it('sends no callback for a task without callback_url and shows state "none"', async () => {
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo' });
    const task = await stack.waitForTask(String(res.json.task_id), (t) => t.status === 'completed');
    expect(task.callback).to.deep.equal({ url: null, state: 'none', attempts: [] });
  });
});

describe('e2e: the default retry schedule (1 s, 2 s, 4 s)', function () {
  this.timeout(30_000);

  it('delivers on attempt 3 after 500, 500 with ~1 s and ~2 s gaps under the default config', async () => {
    const redis = await startRedis();
    const receiver = await startReceiver();
    const stack = await startStack({ redisUrl: redis.url });
    try {
      expect(stack.config.CALLBACK_BACKOFF_MS).to.equal(1000);
      expect(stack.config.CALLBACK_MAX_RETRIES).to.equal(3);
      expect(stack.config.CALLBACK_TIMEOUT_MS).to.equal(30_000);
      receiver.script([500, 500], 200);
      await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
      const got = await receiver.waitFor(3, 15_000);
      const gap1 = (got[1]?.at ?? 0) - (got[0]?.at ?? 0);
      const gap2 = (got[2]?.at ?? 0) - (got[1]?.at ?? 0);
      expect(gap1).to.be.within(990, 2500);
      expect(gap2).to.be.within(1990, 4500);
    } finally {
      await stack.close();
      await receiver.close();
      await redis.destroy();
    }
  });
});

describe('e2e: rotating WEBHOOK_SECRET with WEBHOOK_SECRET_PREVIOUS', function () {
  this.timeout(30_000);

  it('signs task callbacks under both secrets, so receivers holding either one verify', async () => {
    const next = `whsec_${Buffer.from('the new callback secret, 32 bytes').toString('base64')}`;
    const redis = await startRedis();
    const receiver = await startReceiver();
    const stack = await startStack({ redisUrl: redis.url, env: { WEBHOOK_SECRET: next, WEBHOOK_SECRET_PREVIOUS: TEST_SECRET } });
    try {
      const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
      expect(res.status).to.equal(202);
      const [got] = await receiver.waitFor(1);
      if (!got) throw new Error('no callback');
      expect(String(got.headers['webhook-signature']).split(' ')).to.have.length(2);
      // The official verifier and taskhook's own, with the old secret and with the new one.
      const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
      for (const secret of [TEST_SECRET, next]) {
        new Webhook(secret).verify(got.body, headers);
        expect(verifyCallback(got.body, got.headers, secret).id).to.equal(headers['webhook-id']);
      }
      // x-webhook-signature has room for one signature: the new secret's.
      expect(got.headers['x-webhook-signature']).to.equal(`sha256=${createHmac('sha256', Buffer.from(next, 'utf8')).update(got.body).digest('hex')}`);
      expect(() => verifyCallback(got.body, got.headers, `whsec_${Buffer.from('neither secret').toString('base64')}`)).to.throw(/does not match/);
    } finally {
      await stack.close();
      await receiver.close();
      await redis.destroy();
    }
  });
});
