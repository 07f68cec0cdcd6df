import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createServices } from '../../src/runtime/services.js';
import { startWorkerProcess } from '../../src/runtime/worker-process.js';
import { registry } from '../../tasks/index.js';
import { startRedis } from '../helpers/redis.js';

describe('runtime: worker drain', function () {
  this.timeout(30_000);

  it('does not wait for a retention batch stuck on Redis before handing tasks back', async () => {
    const redis = await startRedis();
    const services = await createServices(testConfig({ REDIS_URL: redis.url, API_KEYS: 'k' }), silentLogger());
    const admin = redis.client();
    try {
      // Retention starts with a lock write: with writes held, it is in flight when the drain starts.
      await admin.client('PAUSE', 15_000, 'WRITE');
      const worker = await startWorkerProcess(services, { queues: ['debug'], concurrency: 2, registry, deliver: true });
      const started = Date.now();
      await worker.close(300);
      // bee-queue's own close gives up after grace + 3 s; waiting for the stuck batch took the whole 15 s pause.
      expect(Date.now() - started).to.be.below(8_000);
    } finally {
      await admin.client('UNPAUSE');
      admin.disconnect();
      await services.close();
      await redis.destroy();
    }
  });
});
