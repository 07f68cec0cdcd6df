/**
 * /readyz while Redis is down: 503 problem+json on every probe, but one log
 * line per change of state (warn when it goes, info when it is back), never
 * an error with a stack per probe.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { silentLogger } from '../../../src/logger.js';
import { call, startApi, type Harness } from '../harness.js';

describe('api: /readyz logging', function () {
  this.timeout(20_000);
  const logger = silentLogger();
  let h: Harness;
  let spies: Record<'error' | 'warn' | 'info', sinon.SinonSpy>;

  before(async () => {
    h = await startApi({}, { logger });
  });
  beforeEach(() => {
    spies = { error: sinon.spy(logger, 'error'), warn: sinon.spy(logger, 'warn'), info: sinon.spy(logger, 'info') };
  });
  afterEach(() => sinon.restore());
  after(() => h?.close());

  const messages = (spy: sinon.SinonSpy): string[] => spy.getCalls().map((c) => String(c.args[0]));

  it('logs once per state change at warn/info, not an error per probe', async () => {
    await h.redis.stop();
    try {
      for (let i = 0; i < 3; i += 1) {
        const r = await call(h, 'GET', '/readyz', { key: null });
        expect(r.status).to.equal(503);
        expect(String(r.headers['content-type'])).to.include('application/problem+json');
        expect(r.json).to.include({ code: 'redis_unavailable', status: 503 });
      }
    } finally {
      await h.redis.start();
    }
    expect(spies.error.called, messages(spies.error).join('\n')).to.equal(false);
    expect(messages(spies.warn).filter((m) => m.includes('not ready'))).to.have.length(1);
    let back = await call(h, 'GET', '/readyz', { key: null });
    for (let i = 0; i < 50 && back.status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      back = await call(h, 'GET', '/readyz', { key: null });
    }
    expect(back.status).to.equal(200);
    expect(messages(spies.info).filter((m) => m.includes('ready again'))).to.have.length(1);
  });

  it('a draining process answers 503 shutting_down without logging an error', async () => {
    h.shuttingDown.value = true;
    try {
      const r = await call(h, 'GET', '/readyz', { key: null });
      expect(r.status).to.equal(503);
      expect(r.json).to.include({ code: 'shutting_down' });
    } finally {
      h.shuttingDown.value = false;
    }
    expect(spies.error.called).to.equal(false);
  });
});
