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
      const waitSum = async (): Promise<number> => sample(await stack.services.metrics.registry.metrics(), 'taskhook_task_queue_wait_seconds_sum', { queue: 'debug' }) ?? 0;
      const r = await stack.post('/api/v1/tasks', { task_type: 'debug.fail' });
      expect(r.status).to.equal(202);
      const id = String(r.json.task_id);
      await stack.waitForTask(id, (t) => t.status === 'failed');
      // As if it had been submitted, and had failed, an hour ago.
      const hourAgo = String(Date.now() - 3_600_000);
      await stack.services.redis.hset(stack.services.keys.task(id), 'created', hourAgo, 'queued', hourAgo);
      const before = await waitSum();
      const retried = await stack.post(`/api/v1/tasks/${id}/retry`, {});
      expect(retried.status, JSON.stringify(retried.json)).to.equal(202);
      // The retry answered after setting the status to queued: the next `failed` is the retried run's.
      await stack.waitForTask(id, (t) => t.status === 'failed');
      let after = await waitSum();
      for (let i = 0; i < 50 && after === before; i += 1) {
        await new Promise((res) => setTimeout(res, 50));
        after = await waitSum();
      }
      expect(after - before).to.be.within(0.000001, 30);
      expect(await stack.services.redis.hget(stack.services.keys.task(id), 'created')).to.equal(hourAgo);
    });
  });
});
