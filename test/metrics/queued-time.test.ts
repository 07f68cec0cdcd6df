/**
 * Queue wait counts from when a task was last queued (its `queued` field:
 * submit, end of delay_s, or an API retry), not from its first submit: the
 * queue-wait histogram, the oldest-waiting gauge (and `taskhook top`, see
 * test/cli/top.test.ts).
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { queueGaugeCollector } from '../../src/metrics/queue-gauges.js';
import { createKeys } from '../../src/store/keys.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return null;
}

describe('metrics: queue wait counts from the last time a task was queued', function () {
  this.timeout(30_000);
  let redis: TestRedis;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.destroy();
  });

  it('oldest waiting age: from `queued`, or from `created` for a record without it', async () => {
    const c: Redis = redis.client();
    try {
      const keys = createKeys('thq');
      const now = Date.now();
      // debug: submitted an hour ago, retried 2 s ago. image: an older record with no `queued`.
      await c.hset(keys.task('a'), 'created', String(now - 3_600_000), 'queued', String(now - 2000));
      await c.hset(keys.task('b'), 'created', String(now - 60_000));
      await c.lpush(`${keys.bq}:debug:waiting`, 'a');
      await c.lpush(`${keys.bq}:image:waiting`, 'b');
      const gauges = await queueGaugeCollector(c, keys, 'me')();
      const age = (q: string): number | undefined => gauges?.oldestWaitingS.find((o) => o.queue === q)?.seconds;
      expect(age('debug')).to.be.within(2, 4);
      expect(age('image')).to.be.within(60, 62);
      expect(age('video')).to.equal(0);
    } finally {
      c.disconnect();
    }
  });

  describe('through the real API and worker', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ redisUrl: redis.url, queues: ['debug'] });
    });
    after(async () => {
      await stack?.close();
    });

    it('a task retried long after its submit: the retried run waited milliseconds, not the hour since the submit', async () => {
      const wait = async (): Promise<{ sum: number; count: number }> => {
        const text = await stack.services.metrics.registry.metrics();
        const of = (name: string): number => sample(text, name, { queue: 'debug' }) ?? 0;
        return { sum: of('taskhook_task_queue_wait_seconds_sum'), count: of('taskhook_task_queue_wait_seconds_count') };
      };
      const r = await stack.post('/api/v1/tasks', { task_type: 'debug.fail' });
      expect(r.status).to.equal(202);
      const id = String(r.json.task_id);
      await stack.waitForTask(id, (t) => t.status === 'failed');
      // As if it had been submitted, and had failed, an hour ago.
      const hourAgo = String(Date.now() - 3_600_000);
      await stack.services.redis.hset(stack.services.keys.task(id), 'created', hourAgo, 'queued', hourAgo);
      const before = await wait();
      const retried = await stack.post(`/api/v1/tasks/${id}/retry`, {});
      expect(retried.status, JSON.stringify(retried.json)).to.equal(202);
      // The retry answered after setting the status to queued: the next `failed` is the retried run's.
      await stack.waitForTask(id, (t) => t.status === 'failed');
      let after = await wait();
      for (let i = 0; i < 50 && after.count === before.count; i += 1) {
        await new Promise((res) => setTimeout(res, 50));
        after = await wait();
      }
      expect(after.count - before.count, 'the retried run was observed').to.equal(1);
      // Its wait may round to 0 ms (the worker can take the job within the millisecond it was queued).
      expect(after.sum - before.sum).to.be.within(0, 30);
      expect(await stack.services.redis.hget(stack.services.keys.task(id), 'created')).to.equal(hourAgo);
    });
  });
});
