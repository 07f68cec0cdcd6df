import { expect } from 'chai';
import { startRedis } from './redis.js';

describe('test helper: private redis-server', () => {
  it('starts on a free port that is not 6379, and restarts with its AOF data', async () => {
    const r = await startRedis({ appendonly: true });
    try {
      expect(r.port).to.not.equal(6379);
      const c = r.client();
      await c.set('k', 'v');
      c.disconnect();
      await r.stop();
      await r.start();
      const c2 = r.client();
      expect(await c2.get('k')).to.equal('v');
      c2.disconnect();
    } finally {
      await r.destroy();
    }
  });
});
