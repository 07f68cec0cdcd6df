/**
 * Worker faults through the real path (bee-queue's queue, Redis, the outbox, a
 * loopback receiver): whatever throws where nothing should, a task the
 * worker took still reaches an outcome and its callback.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createServices } from '../../src/runtime/services.js';
import { startWorkerProcess } from '../../src/runtime/worker-process.js';
import { createProducer } from '../../src/queue/producer.js';
import { createRegistry } from '../../src/tasks/registry.js';
import { defineTask } from '../../src/tasks/define.js';
import { readTaskView } from '../../src/store/task-view.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { taskCompletedPayloadSchema, taskFailedPayloadSchema } from '../../src/delivery/payload.js';
import { runTask, StopSwitch } from '../../src/worker/base-task.js';
import { startRedis } from '../helpers/redis.js';
import { workerEnv } from '../helpers/worker-env.js';
import { TEST_SECRET } from '../helpers/signatures.js';

const bigintResult = defineTask({
  name: 'debug.bigint',
  queue: 'debug',
  input: z.object({}),
  timeoutMs: 5000,
  // A database driver's BIGINT column, say: JSON cannot encode it.
  handler: async () => ({ bytes: 10n }) as unknown as Record<string, unknown>,
});

const asyncRefined = defineTask({
  name: 'debug.refined',
  queue: 'debug',
  input: z.object({ n: z.number() }).refine(async (v) => v.n > 0, 'n must be positive'),
  timeoutMs: 5000,
  handler: async (input) => ({ n: input.n }),
});

describe('worker: faults', function () {
  this.timeout(20_000);
  const env = workerEnv({ STALL_INTERVAL_MS: '500' }, 500);
  const submit = (taskType: string, data: Record<string, unknown> = {}): Promise<string> => env.submit(taskType, data);

  it('fails a task whose result JSON cannot encode (internal_error) and calls back, instead of leaving it running', async () => {
    await env.start([bigintResult]);
    const id = await submit('debug.bigint');
    const [got] = await env.receiver.waitFor(1, 10_000);
    const payload = taskFailedPayloadSchema.parse(got?.json);
    expect(payload).to.include({ task_id: id, status: 'failed', error_type: 'internal_error' });
    expect(payload.error).to.match(/could not finish this task: .*BigInt/);
    const stored = await readTaskView(env.services.redis, env.services.keys, id);
    expect(stored?.view.status).to.equal('failed');
  });

  it('validates task_data with async refinements (as the API does) instead of throwing', async () => {
    await env.start([asyncRefined]);
    const ok = await submit('debug.refined', { n: 3 });
    const bad = await submit('debug.refined', { n: -1 });
    const got = await env.receiver.waitFor(2, 10_000);
    const byId = new Map(got.map((r) => [(r.json as { task_id: string }).task_id, r.json]));
    expect(taskCompletedPayloadSchema.parse(byId.get(ok)).result).to.deep.equal({ n: 3 });
    expect(taskFailedPayloadSchema.parse(byId.get(bad))).to.include({ error_type: 'invalid_input' });
  });

  it('takes the job again when Redis refused a take, and runs it', async () => {
    const real = env.services.store;
    let takes = 0;
    let started = 0;
    // One injected Redis failure in take.lua; everything else is the real store.
    const flaky: TaskStore = {
      ...real,
      take: async (...args: Parameters<TaskStore['take']>) => {
        takes += 1;
        if (takes === 1) throw new Error('ERR injected script failure');
        const taken = await real.take(...args);
        started += taken.length;
        return taken;
      },
    };
    await env.start([asyncRefined], flaky);
    const id = await submit('debug.refined', { n: 1 });
    const [got] = await env.receiver.waitFor(1, 10_000);
    expect(taskCompletedPayloadSchema.parse(got?.json)).to.include({ task_id: id, status: 'completed' });
    expect(takes).to.be.at.least(2);
    expect(started, 'taken once').to.equal(1);
    expect(await env.services.redis.hget(env.services.keys.task(id), 'runs')).to.equal('1');
  });
});

describe('worker: a fault that persists (Redis refuses the outcome)', function () {
  this.timeout(20_000);

  it('re-queues the job with a doubling pause, runs the handler at most TASK_MAX_LOST more times, and bounds the stacks it keeps', async () => {
    const redis = await startRedis();
    const services = await createServices(
      testConfig({ REDIS_URL: redis.url, API_KEYS: 'k', WEBHOOK_SECRET: TEST_SECRET, STALL_INTERVAL_MS: '200', TASK_MAX_LOST: '2' }),
      silentLogger(),
    );
    const producer = createProducer({ redis: services.redis, keys: services.keys, redisUrl: redis.url, stallIntervalMs: 200 });
    let handlerRuns = 0;
    const counted = defineTask({ name: 'debug.counted', queue: 'debug', input: z.object({}), timeoutMs: 5000, handler: async () => ((handlerRuns += 1), {}) });
    let starts = 0;
    const real = services.store;
    const refusing: TaskStore = {
      ...real,
      take: async (...args: Parameters<TaskStore['take']>) => {
        const taken = await real.take(...args);
        starts += taken.length;
        return taken;
      },
      finish: async () => {
        throw new Error('OOM command not allowed when used memory > maxmemory (injected)');
      },
    };
    const worker = await startWorkerProcess({ ...services, store: refusing }, { queues: ['debug'], concurrency: 1, registry: createRegistry([counted]), deliver: false });
    try {
      const [t] = await producer.submit('tenant', [{ task_type: 'debug.counted', queue: 'debug', task_data: {}, callback_url: null, metadata: {}, project_id: null, options: {} }]);
      if (!t) throw new Error('nothing queued');
      // Pauses of 200, 400, 800, 1,600 ms: 4–5 starts in 3.5 s (a fixed 200 ms pause made ~17).
      await new Promise((r) => setTimeout(r, 3500));
      expect(starts).to.be.within(3, 6);
      expect(handlerRuns, 'handler runs').to.be.at.most(3);
      const job = JSON.parse((await services.redis.hget(`${services.keys.bq}:debug:jobs`, t.task_id)) ?? '{}') as { options?: { stacktraces?: string[] } };
      expect(job.options?.stacktraces?.length ?? 0).to.be.within(1, 5);
      expect((await services.redis.hget(services.keys.task(t.task_id), 'status'))).to.equal('running');
    } finally {
      await worker.close(300);
      await producer.close();
      await services.close();
      await redis.destroy();
    }
  });
});

describe('worker: base task', () => {
  it('never calls the handler of a run stopped before it began', async () => {
    let called = false;
    const def = defineTask({ name: 'debug.side-effect', queue: 'debug', input: z.object({}), timeoutMs: 1000, handler: async () => ((called = true), {}) });
    const stop = new StopSwitch();
    stop.stop('shutdown');
    const run = await runTask({
      def,
      input: {},
      taskId: 't1',
      attempt: 1,
      timeoutMs: 1000,
      logger: silentLogger(),
      config: testConfig(),
      dispatcher: undefined as never,
      stop,
      onProgress: () => undefined,
    });
    expect(run.kind).to.equal('shutdown');
    expect(called).to.equal(false);
  });
});
