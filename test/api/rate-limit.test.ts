/** Per-API-key rate limit, through real HTTP servers sharing one real Redis. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createApp } from '../../src/api/app.js';
import { RATE_LIMIT_WINDOW_MS, rateLimitVerdict } from '../../src/api/rate-limit.js';
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { connectRedis } from '../../src/runtime/redis.js';
import { registry } from '../../tasks/index.js';
import { KEY_A, KEY_B, call, expectProblem, sha256hex, startApi, type Harness } from './harness.js';

const LIMIT = 5;

describe('api: rate limit per API key', () => {
  let h: Harness;
  const extra: Server[] = [];

  /** Another API process on the same Redis (its own app and server), with `env` overrides. */
  async function secondApi(env: Record<string, string>, client: Redis = h.client): Promise<Harness> {
    const config = testConfig({ REDIS_URL: h.redis.url, REDIS_PREFIX: 'tht', API_KEYS: `${KEY_A},sha256:${sha256hex(KEY_B)}`, ...env });
    const app = createApp({
      config,
      logger: silentLogger(),
      registry,
      redis: client,
      keys: h.keys,
      producer: h.producer,
      checkCallbackUrl: async () => undefined,
      isShuttingDown: () => false,
    });
    const server = createServer(app.callback());
    extra.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { ...h, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, config };
  }

  before(async () => {
    h = await startApi({ RATE_LIMIT_PER_MIN: String(LIMIT) });
  });
  after(async () => {
    for (const s of extra) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await h.close();
  });
  beforeEach(async () => {
    await h.client.flushall();
    // Fixed windows: keep each test inside one window so a reset cannot make it pass or fail.
    const left = RATE_LIMIT_WINDOW_MS - (Date.now() % RATE_LIMIT_WINDOW_MS);
    if (left < 4000) await sleep(left + 50);
  });

  it('allows LIMIT requests per minute, with RateLimit headers, then 429 rate_limited with Retry-After', async () => {
    for (let i = 1; i <= LIMIT; i += 1) {
      const r = await call(h, 'GET', '/api/v1/task-types');
      expect(r.status).to.equal(200);
      expect(r.headers['ratelimit-limit']).to.equal(String(LIMIT));
      expect(r.headers['ratelimit-remaining']).to.equal(String(LIMIT - i));
    }
    const r = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo' } });
    const p = expectProblem(r, 429);
    expect(p.code).to.equal('rate_limited');
    expect(r.headers['ratelimit-remaining']).to.equal('0');
    const retryAfter = Number(r.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).to.equal(true);
    expect(retryAfter).to.be.within(1, 60);
    // Nothing was queued by the refused submit.
    expect(await h.client.keys(`${h.keys.prefix}:task:*`)).to.deep.equal([]);
  });

  it('counts each API key on its own; health routes and bad keys are not limited', async () => {
    for (let i = 0; i < LIMIT + 1; i += 1) await call(h, 'GET', '/api/v1/task-types', { key: KEY_A });
    expectProblem(await call(h, 'GET', '/api/v1/task-types', { key: KEY_A }), 429);
    expect((await call(h, 'GET', '/api/v1/task-types', { key: KEY_B })).status).to.equal(200);
    for (let i = 0; i < LIMIT * 2; i += 1) {
      expect((await call(h, 'GET', '/healthz', { key: null })).status).to.equal(200);
      // Unknown keys get the 401 (auth runs first), never a 429 that would confirm anything.
      expectProblem(await call(h, 'GET', '/api/v1/task-types', { key: 'nope' }), 401);
    }
  });

  it('is shared by every API process on the same Redis', async () => {
    const other = await secondApi({ RATE_LIMIT_PER_MIN: String(LIMIT) });
    for (let i = 0; i < LIMIT; i += 1) {
      const target = i % 2 === 0 ? h : other;
      expect((await call(target, 'GET', '/api/v1/task-types')).status).to.equal(200);
    }
    expectProblem(await call(other, 'GET', '/api/v1/task-types'), 429);
    expectProblem(await call(h, 'GET', '/api/v1/task-types'), 429);
    const counters = await h.client.keys(`${h.keys.prefix}:rl:*`);
    expect(counters).to.have.length(1);
    expect(await h.client.pttl(counters[0] as string)).to.be.within(1, RATE_LIMIT_WINDOW_MS + 1000);
  });

  it('RATE_LIMIT_PER_MIN=0 turns it off: no headers, no counters', async () => {
    const off = await secondApi({ RATE_LIMIT_PER_MIN: '0' });
    for (let i = 0; i < LIMIT * 3; i += 1) {
      const r = await call(off, 'GET', '/api/v1/task-types');
      expect(r.status).to.equal(200);
      expect(r.headers['ratelimit-limit']).to.equal(undefined);
    }
    expect(await h.client.keys(`${h.keys.prefix}:rl:*`)).to.deep.equal([]);
  });

  it('Redis hung or stopped: 503 redis_unavailable (with Retry-After) within the time limit, instead of a request that hangs', async function () {
    this.timeout(20_000);
    // A client like the API's (src/runtime/redis.ts): its commands wait for a reconnect, however long.
    const client = await connectRedis(h.redis.url);
    const api = await secondApi({ RATE_LIMIT_PER_MIN: String(LIMIT) }, client);
    const timedCall = async (): Promise<{ r: Awaited<ReturnType<typeof call>>; ms: number }> => {
      const t0 = Date.now();
      const r = await call(api, 'GET', '/api/v1/task-types');
      return { r, ms: Date.now() - t0 };
    };
    try {
      expect((await timedCall()).r.status).to.equal(200);

      // Hung: connected, answering nothing. (CLIENT UNPAUSE would wait behind the pause: it runs out.)
      const pauseMs = 2500;
      const pausedAt = Date.now();
      await h.client.client('PAUSE', pauseMs, 'ALL');
      const hung = await timedCall();
      expect(hung.ms).to.be.within(900, 2000);
      expect(expectProblem(hung.r, 503).code).to.equal('redis_unavailable');
      expect(hung.r.headers['retry-after']).to.equal('5');
      await sleep(Math.max(0, pausedAt + pauseMs + 100 - Date.now()));

      await h.redis.stop();
      try {
        const down = await timedCall();
        expect(down.ms).to.be.below(1500);
        expect(expectProblem(down.r, 503).code).to.equal('redis_unavailable');
      } finally {
        await h.redis.start();
      }
      // Back to normal once the client has reconnected.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i += 1) {
        await sleep(100);
        status = (await timedCall()).r.status;
      }
      expect(status).to.equal(200);
    } finally {
      client.disconnect();
    }
  });

  it('rateLimitVerdict: remaining and reset from the count and the clock', () => {
    expect(rateLimitVerdict(1, 5, 0)).to.deep.equal({ allowed: true, remaining: 4, resetS: 60 });
    expect(rateLimitVerdict(5, 5, 59_500)).to.deep.equal({ allowed: true, remaining: 0, resetS: 1 });
    expect(rateLimitVerdict(6, 5, 30_001)).to.deep.equal({ allowed: false, remaining: 0, resetS: 30 });
  });
});
