/**
 * Crashes and restarts with real worker processes: SIGKILL mid-task, a task
 * that keeps killing its worker, graceful SIGTERM, and a callback that
 * outlives the process that was delivering it.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { spawnWorker, startStack, waitForOutput, type Stack } from '../helpers/stack.js';
import { expectValidSignatures } from '../helpers/signatures.js';

const WORKER_ENV = { STALL_INTERVAL_MS: '400', WORKER_QUEUES: 'debug', CALLBACK_BACKOFF_MS: '100', CALLBACK_TIMEOUT_MS: '1000' };

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('e2e: crashes, restarts and shutdown', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;
  const children: ChildProcess[] = [];

  const worker = async (env: Record<string, string> = {}): Promise<ChildProcess> => {
    const child = spawnWorker(redis.url, { ...WORKER_ENV, ...env });
    children.push(child);
    await waitForOutput(child, 'worker ready');
    return child;
  };

  beforeEach(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    stack = await startStack({ redisUrl: redis.url, worker: false, env: WORKER_ENV });
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await stack.close();
    await receiver.close();
    await redis.destroy();
  });

  it('re-runs a task whose worker was SIGKILLed mid-task, and sends exactly one terminal callback', async () => {
    const w1 = await worker();
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 1500 }, callback_url: receiver.url });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'running');
    w1.kill('SIGKILL');
    await exited(w1);
    await worker();
    const [got] = await receiver.waitFor(1, 20_000);
    if (!got) throw new Error('no callback');
    expect(got.json).to.include({ event: 'task.completed', task_id: id });
    expectValidSignatures(got);
    await sleep(1500);
    expect(receiver.received).to.have.length(1);
    const rec = await stack.services.redis.hgetall(stack.services.keys.task(id));
    expect(rec).to.include({ status: 'completed', runs: '2', lost: '1' });
  });

  it('fails a task that keeps losing its worker with error_type "worker_lost" after TASK_MAX_LOST', async () => {
    const env = { TASK_MAX_LOST: '1' };
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 30_000 }, callback_url: receiver.url });
    const id = String(res.json.task_id);
    for (let i = 0; i < 2; i += 1) {
      const w = await worker(env);
      await stack.waitForTask(id, (t) => t.status === 'running' && Number(t.progress) >= 0, 20_000);
      // Wait until this worker has really started it (runs == i + 1) before killing it.
      for (let n = 0; n < 200; n += 1) {
        if (Number(await stack.services.redis.hget(stack.services.keys.task(id), 'runs')) === i + 1) break;
        await sleep(25);
      }
      w.kill('SIGKILL');
      await exited(w);
    }
    await worker(env);
    const [got] = await receiver.waitFor(1, 20_000);
    expect(got?.json).to.include({ event: 'task.failed', task_id: id, error_type: 'worker_lost' });
    const rec = await stack.services.redis.hgetall(stack.services.keys.task(id));
    expect(rec).to.include({ status: 'failed', runs: '2', lost: '2' });
  });

  it('on SIGTERM lets a running task finish, delivers its callback and exits 0', async () => {
    const w = await worker({ SHUTDOWN_GRACE_MS: '5000' });
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 800 }, callback_url: receiver.url });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'running');
    w.kill('SIGTERM');
    expect(await exited(w)).to.equal(0);
    const [got] = await receiver.waitFor(1, 5000);
    expect(got?.json).to.include({ event: 'task.completed', task_id: id });
  });

  it('on SIGTERM while Redis is down, still exits (does not wait for Redis forever)', async () => {
    const w = await worker({ SHUTDOWN_GRACE_MS: '1000' });
    await redis.stop();
    await sleep(300);
    w.kill('SIGTERM');
    const outcome = await Promise.race([exited(w), sleep(15_000).then(() => 'still running')]);
    expect(outcome).to.equal(0);
  });

  it('hands a task that outlives the grace period back to the queue; another worker finishes it', async () => {
    const w = await worker({ SHUTDOWN_GRACE_MS: '300' });
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 2500 }, callback_url: receiver.url });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'running');
    w.kill('SIGTERM');
    expect(await exited(w)).to.equal(0);
    expect(await stack.services.redis.hget(stack.services.keys.task(id), 'status')).to.equal('queued');
    expect(receiver.received).to.have.length(0);
    await worker();
    const [got] = await receiver.waitFor(1, 15_000);
    expect(got?.json).to.include({ event: 'task.completed', task_id: id });
    const rec = await stack.services.redis.hgetall(stack.services.keys.task(id));
    expect(rec).to.include({ runs: '2', lost: '0' });
  });

  it('keeps a callback whose delivering worker was SIGKILLed mid-attempt, and another worker delivers it', async () => {
    receiver.script(['hang'], 200);
    const w1 = await worker();
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    await receiver.waitFor(1, 10_000);
    w1.kill('SIGKILL');
    await exited(w1);
    await worker();
    // The lease (timeout + 5 s) has to run out before another process may try.
    const got = await receiver.waitFor(2, 20_000);
    expect(got[1]?.json).to.include({ event: 'task.completed', task_id: res.json.task_id });
    expect(got[1]?.headers['webhook-id']).to.equal(got[0]?.headers['webhook-id']);
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'delivered');
    expect(task.status).to.equal('completed');
  });

  it('a worker with a dead receiver keeps retrying from Redis across a restart until the receiver answers', async () => {
    const w1 = await worker({ CALLBACK_MAX_RETRIES: '10', CALLBACK_BACKOFF_MS: '300' });
    receiver.script([], 503);
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    await receiver.waitFor(2, 10_000);
    w1.kill('SIGTERM');
    expect(await exited(w1)).to.equal(0);
    const before = receiver.received.length;
    receiver.script([], 200);
    await worker({ CALLBACK_MAX_RETRIES: '10', CALLBACK_BACKOFF_MS: '300' });
    await receiver.waitFor(before + 1, 15_000);
    const task = await stack.waitForTask(String(res.json.task_id), (t) => (t.callback as { state: string }).state === 'delivered');
    expect((task.callback as { attempts: unknown[] }).attempts.length).to.equal(before + 1);
  });
});
