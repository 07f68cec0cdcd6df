/**
 * A cancel request published between take.lua (which marks the task running)
 * and the moment the worker has its stop switch: the message, on another
 * connection, can overtake take.lua's reply. Real worker, Redis and receiver.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { createTaskControl } from '../../src/store/control.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { workerEnv } from '../helpers/worker-env.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('worker: a cancel that overtakes the take', function () {
  this.timeout(20_000);
  const env = workerEnv();
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

  const submit = (data: Record<string, unknown> = {}): Promise<string> => env.submit('debug.counted', data);
  beforeEach(() => {
    runs = 0;
  });

  it('cancels the run: the handler never starts and the task ends cancelled', async () => {
    const { services, receiver } = env;
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
    await env.start([counted], slowTake);
    const id = await submit();
    const [got] = await receiver.waitFor(1, 10_000);
    expect(got?.json).to.deep.include({ task_id: id, event: 'task.cancelled' });
    expect(runs).to.equal(0);
    expect(await services.redis.hget(services.keys.task(id), 'status')).to.equal('cancelled');
  });

  it('a cancel heard for an earlier run of the task does not stop its retried run', async () => {
    const { services, producer, receiver } = env;
    await env.start([counted]);
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
