/**
 * The Redis settings read at start-up, against a real private redis-server
 * left at Redis's defaults (as a user's own Redis often is).
 */
import { expect } from 'chai';
import sinon from 'sinon';
import winston from 'winston';
import { RECOMMENDED_HASH_MAX_VALUE, checkRedisSafety, readRedisSettings } from '../../src/runtime/redis.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

describe('runtime: Redis settings at start-up', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.destroy();
  });

  it('reads hash-max-listpack-value, and hints at the recommended one only while it is below it', async () => {
    const c = redis.client();
    const logger = winston.createLogger({ silent: true });
    const info = sinon.spy(logger, 'info');
    try {
      await c.config('SET', 'hash-max-listpack-value', '64'); // Redis's default
      expect((await readRedisSettings(c)).hashMaxValue).to.equal(64);
      await checkRedisSafety(c, { REDIS_REQUIRE_NOEVICTION: true }, logger);
      const hints = info.getCalls().map((call) => String(call.args[0]));
      expect(hints.some((m) => m.includes('hash-max-listpack-value is 64') && m.includes(String(RECOMMENDED_HASH_MAX_VALUE)))).to.equal(true);

      info.resetHistory();
      await c.config('SET', 'hash-max-listpack-value', String(RECOMMENDED_HASH_MAX_VALUE));
      expect((await readRedisSettings(c)).hashMaxValue).to.equal(RECOMMENDED_HASH_MAX_VALUE);
      await checkRedisSafety(c, { REDIS_REQUIRE_NOEVICTION: true }, logger);
      expect(info.getCalls().map((call) => String(call.args[0])).filter((m) => m.includes('hash-max-listpack-value'))).to.deep.equal([]);
    } finally {
      c.disconnect();
    }
  });
});
