/**
 * A cancel request published between take.lua (which marks the task running)
 * and the moment the worker has its stop switch: the message, on another
 * connection, can overtake take.lua's reply. Real worker, Redis and receiver.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/runtime/services.js';
import { startWorkerProcess, type RunningWorker } from '../../src/runtime/worker-process.js';
import { createProducer, type Producer } from '../../src/queue/producer.js';
import { createRegistry } from '../../src/tasks/registry.js';
import { defineTask } from '../../src/tasks/define.js';
import { createTaskControl } from '../../src/store/control.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { TEST_SECRET } from '../helpers/signatures.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('worker: a cancel that overtakes the take', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let services: Services;
  let producer: Producer;
  let worker: RunningWorker | null = null;
  let runs = 0;
  const counted = defineTask({
    name: 'debug.counted',
    queue: 'debug',
    input: z.object({ fail: z.boolean().optional() }),
    timeoutMs: 5000,
    handler: async (input) => {
      runs += 1;
      if (input.fail) throw new Error('failing on purpose');
      return {};
    },
  });

  const submit = async (data: Record<string, unknown> = {}): Promise<string> => {
    const [t] = await producer.submit('tenant', [
      { task_type: 'debug.counted', queue: 'debug', task_data: data, callback_url: receiver.url, metadata: {}, project_id: null, options: {} },
    ]);
    if (!t) throw new Error('nothing queued');
    return t.task_id;
  };

  beforeEach(async () => {
    runs = 0;
    redis = await startRedis();
    receiver = await startReceiver();
    services = await createServices(
      testConfig({ REDIS_URL: redis.url, API_KEYS: 'k', WEBHOOK_SECRET: TEST_SECRET, CALLBACK_ALLOWLIST: '127.0.0.0/8' }),
      silentLogger(),
    );
    producer = createProducer({ redis: services.redis, keys: services.keys, redisUrl: redis.url, stallIntervalMs: 5000 });
  });
  afterEach(async () => {
    await worker?.close(500);
    worker = null;
    await producer.close();
    await services.close();
    await receiver.close();
    await redis.destroy();
  });

  it('cancels the run: the handler never starts and the task ends cancelled', async () => {
    const control = createTaskControl(services.redis, services.keys);
    const real = services.store;
    // The take's answer reaches the worker only after the cancel was published and heard.
    const slowTake: TaskStore = {
      ...real,
      take: async (...args: Parameters<TaskStore['take']>) => {
        const taken = await real.take(...args);
        for (const t of taken) if (t.verdict.kind === 'run') expect(await control.requestCancel(t.id)).to.equal('running');
        if (taken.length > 0) await sleep(200);
        return taken;
      },
    };
    worker = await startWorkerProcess({ ...services, store: slowTake }, { queues: ['debug'], concurrency: 2, registry: createRegistry([counted]), deliver: true });
    const id = await submit();
    const [got] = await receiver.waitFor(1, 10_000);
    expect(got?.json).to.deep.include({ task_id: id, event: 'task.cancelled' });
    expect(runs).to.equal(0);
    expect(await services.redis.hget(services.keys.task(id), 'status')).to.equal('cancelled');
  });

  it('a cancel heard for an earlier run of the task does not stop its retried run', async () => {
    worker = await startWorkerProcess(services, { queues: ['debug'], concurrency: 2, registry: createRegistry([counted]), deliver: true });
    const id = await submit({ fail: true });
    await receiver.waitFor(1, 10_000);
    // As if a cancel for the first run (generation 1) had reached this worker after that run ended elsewhere.
    await services.redis.publish(services.keys.cancelChannel, `${id}:1`);
    await sleep(100);
    expect(await producer.retry({ id, queue: 'debug', options: {} })).to.deep.equal({ gen: 2 });
    const got = await receiver.waitFor(2, 10_000);
    expect(got[1]?.json).to.deep.include({ task_id: id, event: 'task.failed' });
    expect(runs).to.equal(2);
  });
});
