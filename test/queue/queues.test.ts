import { expect } from 'chai';
import { createQueue } from '../../src/queue/queues.js';
import { createKeys } from '../../src/store/keys.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

describe('queue: bee-queue after a Redis restart', () => {
  let redis: TestRedis;

  before(async () => {
    redis = await startRedis({ appendonly: true });
  });
  after(async () => {
    await redis.destroy();
  });

  it('loads its Lua scripts again, so the stalled-job check keeps working (no NOSCRIPT)', async () => {
    const queue = createQueue('debug', { redisUrl: redis.url, keys: createKeys('thq'), role: 'worker', stallIntervalMs: 1000 });
    const errors: Error[] = [];
    queue.on('error', (err: Error) => errors.push(err));
    try {
      await queue.ready();
      expect(await queue.checkStalledJobs()).to.equal(0);
      await redis.stop();
      await redis.start(); // an empty script cache
      const client = (queue as unknown as { client: { ready: boolean } }).client;
      for (let i = 0; i < 100 && !client.ready; i++) await new Promise((r) => setTimeout(r, 50));
      expect(client.ready, 'reconnected').to.equal(true);
      let checked: number | Error = new Error('not run');
      for (let i = 0; i < 40; i++) {
        checked = await queue.checkStalledJobs().catch((err: Error) => err);
        if (typeof checked === 'number') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(checked).to.equal(0);
      expect(errors.filter((e) => /NOSCRIPT/.test(e.message))).to.deep.equal([]);
    } finally {
      await queue.close(1000).catch(() => undefined);
    }
  });

  it('raises a delayed job that fell due while Redis was down soon after it is back, not a nearTermWindow later', async function () {
    this.timeout(20_000);
    const keys = createKeys('thd');
    const producer = createQueue('debug', { redisUrl: redis.url, keys, role: 'producer', stallIntervalMs: 1000 });
    const worker = createQueue('debug', { redisUrl: redis.url, keys, role: 'worker', stallIntervalMs: 1000 });
    producer.on('error', () => undefined);
    worker.on('error', () => undefined);
    try {
      await Promise.all([producer.ready(), worker.ready()]);
      await producer.createJob({}).setId('due-during-restart').delayUntil(Date.now() + 1000).save();
      await redis.stop();
      await new Promise((r) => setTimeout(r, 2000)); // due while Redis is down: the raise fails
      await redis.start();
      const back = Date.now();
      const client = redis.client();
      let raisedAt = 0;
      try {
        for (let i = 0; i < 160 && raisedAt === 0; i++) {
          if ((await client.lpos('thd:bq:debug:waiting', 'due-during-restart')) !== null) raisedAt = Date.now();
          else await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        client.disconnect();
      }
      expect(raisedAt, 'the job was raised to waiting').to.be.greaterThan(0);
      expect(raisedAt - back).to.be.below(6000);
    } finally {
      await Promise.all([producer.close(1000), worker.close(1000)].map((p) => p.catch(() => undefined)));
    }
  });
});
