import { Router } from '@koa/router';
import { expect } from 'chai';
import sinon from 'sinon';
import { TaskhookError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { call, expectProblem, startApi, type Harness } from './harness.js';

describe('api: app, routing and problem+json', () => {
  let h: Harness;
  const logger = silentLogger();
  before(async () => {
    const extra = new Router();
    extra.get('/api/v1/files/boom', () => {
      throw new Error('secret detail at /work/main/src/x.ts:12 ECONNREFUSED 10.0.0.5');
    });
    extra.get('/api/v1/files/busy', () => {
      throw new TaskhookError('media_busy', 'internal queue /var/x is full', { status: 503 });
    });
    extra.get('/api/v1/files/tenant', (ctx) => {
      ctx.body = { tenant: (ctx.state as { tenant?: string }).tenant };
    });
    h = await startApi({}, { extraRouters: [extra], logger });
  });
  after(async () => {
    await h.close();
  });

  it('logs a 503 (a dependency down, expected while it lasts) at warn without a stack, any other 5xx at error with one', async () => {
    const error = sinon.spy(logger, 'error');
    const warn = sinon.spy(logger, 'warn');
    try {
      expect((await call(h, 'GET', '/api/v1/files/busy')).status).to.equal(503);
      expect(error.called).to.equal(false);
      expect(warn.calledOnce).to.equal(true);
      expect((warn.firstCall.args as unknown[])[1]).to.include({ status: 503, code: 'media_busy' }).and.not.have.property('stack');
      expect((await call(h, 'GET', '/api/v1/files/boom')).status).to.equal(500);
      expect(error.calledOnce).to.equal(true);
      expect((error.firstCall.args as unknown[])[1]).to.have.property('stack');
    } finally {
      error.restore();
      warn.restore();
    }
  });

  it('GET /healthz → 200 { status: "ok" }', async () => {
    const r = await call(h, 'GET', '/healthz', { key: null });
    expect(r.status).to.equal(200);
    expect(r.json).to.deep.equal({ status: 'ok' });
  });

  it('GET /readyz → 200 while Redis answers, 503 problem+json while shutting down', async () => {
    const ok = await call(h, 'GET', '/readyz', { key: null });
    expect(ok.status).to.equal(200);
    h.shuttingDown.value = true;
    try {
      const r = await call(h, 'GET', '/readyz', { key: null });
      expect(expectProblem(r, 503).code).to.equal('shutting_down');
      // Liveness is not readiness.
      expect((await call(h, 'GET', '/healthz', { key: null })).status).to.equal(200);
    } finally {
      h.shuttingDown.value = false;
    }
    expect((await call(h, 'GET', '/readyz', { key: null })).status).to.equal(200);
  });

  it('unknown routes → 404 problem+json, with or without a key', async () => {
    for (const path of ['/nope', `/api/v1/${Math.random().toString(36).slice(2)}`, '/api/v2/tasks', '/api/v1/tasks/a/b']) {
      for (const key of [undefined, null]) {
        const p = expectProblem(await call(h, 'GET', path, { key }), 404);
        expect(p.code).to.equal('not_found');
      }
    }
  });

  it('a wrong method → 405 problem+json with Allow', async () => {
    const r = await call(h, 'DELETE', '/api/v1/tasks/batch');
    expect(expectProblem(r, 405).code).to.equal('method_not_allowed');
    expect(String(r.headers.allow)).to.include('POST');
    const health = await call(h, 'POST', '/healthz', { key: null, body: {} });
    expect(expectProblem(health, 405).code).to.equal('method_not_allowed');
  });

  it('extra routers sit behind auth and see the tenant', async () => {
    expectProblem(await call(h, 'GET', '/api/v1/files/tenant', { key: null }), 401);
    const r = await call(h, 'GET', '/api/v1/files/tenant');
    expect(r.json.tenant).to.match(/^[0-9a-f]{16}$/);
  });

  it('an unexpected error → generic 500 with no message, stack or path', async () => {
    const r = await call(h, 'GET', '/api/v1/files/boom');
    const p = expectProblem(r, 500);
    expect(p).to.deep.equal({
      type: 'urn:taskhook:problem:internal_error',
      title: 'Internal Server Error',
      status: 500,
      detail: 'An internal error occurred.',
      code: 'internal_error',
    });
    expect(r.text).to.not.match(/secret|ECONNREFUSED|10\.0\.0\.5|\/work\//);
  });

  it('a 5xx TaskhookError keeps its status and code but not its message', async () => {
    const r = await call(h, 'GET', '/api/v1/files/busy');
    expect(expectProblem(r, 503).code).to.equal('media_busy');
    expect(r.text).to.not.include('/var/x');
  });

  it('GET /readyz → 503 when Redis does not answer', async () => {
    await h.redis.stop();
    try {
      const r = await call(h, 'GET', '/readyz', { key: null });
      expect(expectProblem(r, 503).code).to.equal('redis_unavailable');
    } finally {
      await h.redis.start();
    }
  });
});
