/**
 * A worker process draining while a callback receiver hangs: the drain ends
 * with the dispatcher's grace (the attempt is cut off, not waited for up to
 * CALLBACK_TIMEOUT_MS), the cut-off attempt is not counted, and another
 * worker sends the callback once the lease runs out.
 */
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { spawnWorker, startStack, waitForOutput, type Stack } from '../helpers/stack.js';

/** CALLBACK_TIMEOUT_MS well above the grace, so waiting for the attempt shows in the drain's time. */
const WORKER_ENV = { WORKER_QUEUES: 'debug', SHUTDOWN_GRACE_MS: '1000', CALLBACK_TIMEOUT_MS: '8000', STALL_INTERVAL_MS: '400' };

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('runtime: draining with a callback attempt in flight', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;
  const children: ChildProcess[] = [];

  const worker = async (): Promise<ChildProcess> => {
    const child = spawnWorker(redis.url, WORKER_ENV);
    children.push(child);
    await waitForOutput(child, 'worker ready');
    return child;
  };

  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    stack = await startStack({ redisUrl: redis.url, worker: false, env: WORKER_ENV });
  });
  after(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await stack?.close();
    await receiver?.close();
    await redis?.destroy();
  });

  it('cuts off a hanging attempt once the grace is over; the attempt is not counted and another worker sends it', async () => {
    receiver.script(['hang'], 204);
    const w1 = await worker();
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', task_data: {}, callback_url: receiver.url });
    const id = String(res.json.task_id);
    await receiver.waitFor(1, 10_000);
    const started = Date.now();
    w1.kill('SIGTERM');
    expect(await exited(w1)).to.equal(0);
    // Grace (1 s) plus the rest of the drain; waiting for the attempt took until its 8 s deadline.
    expect(Date.now() - started).to.be.below(4_000);
    const cut = await stack.waitForTask(id, () => true);
    expect(cut.callback).to.deep.include({ state: 'delivering', attempts: [] });

    // The claim's lease (timeout + 5 s) runs out, then another process sends it again.
    await worker();
    const got = await receiver.waitFor(2, 25_000);
    expect(got[1]?.headers['webhook-id']).to.equal(got[0]?.headers['webhook-id']);
    const task = await stack.waitForTask(id, (t) => (t.callback as { state: string }).state === 'delivered');
    expect((task.callback as { attempts: unknown[] }).attempts).to.have.length(1);
  });
});
