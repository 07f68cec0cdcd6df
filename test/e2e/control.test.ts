/**
 * Cancel and retry through the whole product (API, Redis, bee-queue, worker,
 * outbox, undici) with a real receiver: exactly one terminal callback per
 * outcome, and a retried task's callback is a new message.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { taskCancelledPayloadSchema, taskFailedPayloadSchema } from '../../src/delivery/payload.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { expectValidSignatures } from '../helpers/signatures.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('e2e: cancel and retry', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;

  const record = (id: string) => stack.services.redis.hgetall(stack.services.keys.task(id));

  before(async () => {
    redis = await startRedis();
    stack = await startStack({ redisUrl: redis.url, env: { CALLBACK_BACKOFF_MS: '100', CALLBACK_TIMEOUT_MS: '2000' } });
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

  it('cancels a delayed task: 200, one signed task.cancelled callback, and the task never runs', async () => {
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.echo',
      task_data: { x: 1 },
      callback_url: `${receiver.url}/cb`,
      metadata: { order: 1 },
      project_id: 'p1',
      options: { delay_s: 1 },
    });
    const id = String(res.json.task_id);
    const cancel = await stack.post(`/api/v1/tasks/${id}/cancel`, '');
    expect(cancel.status).to.equal(200);
    expect(cancel.json).to.include({ task_id: id, status: 'cancelled' });

    const [got] = await receiver.waitFor(1);
    if (!got) throw new Error('no callback');
    expectValidSignatures(got);
    const payload = taskCancelledPayloadSchema.parse(got.json);
    expect(payload).to.include({ event: 'task.cancelled', task_id: id, project_id: 'p1', task_type: 'debug.echo', status: 'cancelled' });
    expect(payload.metadata).to.deep.equal({ order: 1 });

    // Past the delay: the job was removed, so nothing ran and nothing more arrived.
    await sleep(1500);
    expect(receiver.received).to.have.length(1);
    expect(await record(id)).to.include({ status: 'cancelled', runs: '0' });
    const view = await stack.waitForTask(id, (t) => (t.callback as { state: string }).state === 'delivered');
    expect(view.status).to.equal('cancelled');
  });

  it('cancels a running debug.sleep: 202 while running, then cancelled with one task.cancelled callback', async () => {
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 8000 }, callback_url: receiver.url });
    const id = String(res.json.task_id);
    // Progress means the handler is running (and the worker listens for its cancel).
    await stack.waitForTask(id, (t) => t.status === 'running' && Number(t.progress) > 0);
    const started = Date.now();
    const cancel = await stack.post(`/api/v1/tasks/${id}/cancel`, '');
    expect(cancel.status).to.equal(202);
    expect(cancel.json).to.include({ task_id: id, status: 'running' });

    const done = await stack.waitForTask(id, (t) => t.status === 'cancelled');
    expect(Date.now() - started).to.be.below(6000);
    expect(done.result).to.equal(undefined);
    const [got] = await receiver.waitFor(1);
    if (!got) throw new Error('no callback');
    expect(taskCancelledPayloadSchema.parse(got.json)).to.include({ task_id: id, status: 'cancelled' });
    await sleep(300);
    expect(receiver.received).to.have.length(1);
    expect(await record(id)).to.include({ status: 'cancelled', runs: '1' });

    const again = await stack.post(`/api/v1/tasks/${id}/cancel`, '');
    expect(again.status).to.equal(409);
    expect(again.json.code).to.equal('task_finished');
  });

  it('retries a failed task under the same id: it runs again and a second task.failed arrives with a new webhook-id', async () => {
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'debug.fail',
      task_data: { message: 'boom', code: 'disk_error' },
      callback_url: receiver.url,
    });
    const id = String(res.json.task_id);
    const [first] = await receiver.waitFor(1);
    if (!first) throw new Error('no first callback');
    expect(taskFailedPayloadSchema.parse(first.json)).to.include({ task_id: id, error_type: 'disk_error' });
    await stack.waitForTask(id, (t) => t.status === 'failed');

    const retry = await stack.post(`/api/v1/tasks/${id}/retry`, '');
    expect(retry.status).to.equal(202);
    expect(retry.json).to.include({ task_id: id });

    const received = await receiver.waitFor(2);
    const second = received[1];
    if (!second) throw new Error('no second callback');
    expectValidSignatures(second);
    expect(taskFailedPayloadSchema.parse(second.json)).to.include({ event: 'task.failed', task_id: id, status: 'failed', error: 'boom' });
    expect(second.headers['webhook-id']).to.be.a('string');
    expect(second.headers['webhook-id']).to.not.equal(first.headers['webhook-id']);
    await stack.waitForTask(id, (t) => t.status === 'failed');
    expect(await record(id)).to.include({ status: 'failed', runs: '2', gen: '2', dlv: `${id}.2` });
    await sleep(300);
    expect(receiver.received).to.have.length(2);
  });

  it('refuses to retry a completed task (409) and leaves it alone', async () => {
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', task_data: { a: 1 } });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'completed');
    const retry = await stack.post(`/api/v1/tasks/${id}/retry`, '');
    expect(retry.status).to.equal(409);
    expect(retry.json.code).to.equal('task_not_retryable');
    expect(await record(id)).to.include({ status: 'completed', gen: '1', runs: '1' });
  });
});
