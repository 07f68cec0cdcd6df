import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../src/runtime/redis.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** The client's status once its socket has closed (ioredis sets `end` a moment after QUIT's reply). */
async function finalStatus(c: Redis): Promise<string> {
  for (let i = 0; i < 100 && c.status !== 'end'; i++) await new Promise((r) => setTimeout(r, 20));
  return c.status;
}

describe('runtime: closeRedis', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await startRedis();
  });
  afterEach(() => redis.destroy());

  it('quits a connected client', async () => {
    const c = await connectRedis(redis.url);
    await closeRedis(c);
    expect(await finalStatus(c)).to.equal('end');
  });

  it('returns at once when Redis is gone, where a QUIT would wait for a reconnect that never comes', async () => {
    const c = await connectRedis(redis.url);
    await redis.stop();
    while (c.status === 'ready') await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await closeRedis(c);
    expect(Date.now() - started).to.be.below(2500);
    // And it stays closed: no reconnect once Redis is back.
    await redis.start();
    await new Promise((r) => setTimeout(r, 2500));
    expect(c.status).to.not.equal('ready');
  });
});
