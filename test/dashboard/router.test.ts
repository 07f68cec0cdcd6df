import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import type { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { tenantOf } from '../../src/api/auth.js';
import { act, call, login, session, setCookies, type DashSession } from './helpers.js';

const OTHER_KEY = 'other-tenant-key';
const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

describe('dashboard (HTTP)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let client: Redis;
  let stack: Stack;
  let base: string;

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    // No worker: tasks stay queued, so every action's effect is ours alone.
    stack = await startStack({ redisUrl: redis.url, worker: false, env: { API_KEYS: `${API_KEY},${OTHER_KEY}` } });
    base = stack.url;
  });

  after(async () => {
    await stack?.close();
    client?.disconnect();
    await redis?.destroy();
  });

  async function submit(key = API_KEY, extra: Record<string, unknown> = {}): Promise<string> {
    const r = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', task_data: { x: 1 }, ...extra }, { 'x-api-key': key });
    expect(r.status).to.equal(202);
    return r.json.task_id as string;
  }

  async function sessionKeys(): Promise<string[]> {
    return client.keys(`${stack.config.REDIS_PREFIX}:sess:*`);
  }

  it('shows the login form to a visitor without a session, with a strict CSP', async () => {
    const r = await call(base, '/dashboard');
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.match(/^text\/html/);
    expect(r.text).to.include('name="api_key"').and.include('action="/dashboard/login"');
    expect(r.text).not.to.include('csrf-token');
    expect(String(r.headers['content-security-policy'])).to.include(CSP);
    expect(r.headers['x-frame-options']).to.equal('DENY');
  });

  it('a wrong key gets the form again with an error and no cookie', async () => {
    const before = (await sessionKeys()).length;
    const r = await login(base, 'not-a-key');
    expect(r.status).to.equal(401);
    expect(r.text).to.include('That API key is not valid.').and.include('name="api_key"');
    expect(setCookies(r)).to.deep.equal([]);
    expect((await sessionKeys()).length).to.equal(before);
  });

  it('after 10 wrong keys in a minute from one address, sign-in answers 429 with Retry-After, even for a right key', async () => {
    // Stay inside one one-minute window, and start it clean for this address.
    const msLeft = 60_000 - (Date.now() % 60_000);
    if (msLeft < 3000) await new Promise((r) => setTimeout(r, msLeft + 50));
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
    for (let i = 0; i < 10; i += 1) expect((await login(base, `wrong-${i}`)).status).to.equal(401);
    const blocked = await login(base, API_KEY);
    expect(blocked.status).to.equal(429);
    expect(Number(blocked.headers['retry-after'])).to.be.within(1, 60);
    expect(blocked.text).to.include('Too many failed sign-ins');
    expect(setCookies(blocked)).to.deep.equal([]);
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
    expect((await login(base, API_KEY)).status).to.equal(303);
  });

  it('parallel wrong keys cannot get past the limit: at most 10 of 40 are checked, the rest are 429', async () => {
    const msLeft = 60_000 - (Date.now() % 60_000);
    if (msLeft < 5000) await new Promise((r) => setTimeout(r, msLeft + 50));
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
    // Every request sends its headers at once and its form only once all 40 are in flight, so all of
    // them are past any "how many so far?" read before the first wrong key is counted.
    const release: (() => void)[] = [];
    const replies = Array.from({ length: 40 }, (_, i) => {
      const body = new Readable({ read() {} });
      release.push(() => body.push(null));
      body.push(new URLSearchParams({ api_key: `wrong-parallel-${i}` }).toString());
      return request(`${base}/dashboard/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      }).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const end of release) end();
    const statuses = await Promise.all(replies);
    expect(statuses.filter((s) => s !== 429), statuses.join(',')).to.have.length.at.most(10);
    expect(statuses.every((s) => s === 401 || s === 429), statuses.join(',')).to.equal(true);
    // The counter's window expires on its own (the reservation set its TTL in the same step).
    const [counter] = await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`);
    expect(await client.pttl(counter as string)).to.be.within(1, 61_000);
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
  });

  it('a right key does not use up the failure budget, even with many signing in at once behind one address', async () => {
    const msLeft = 60_000 - (Date.now() % 60_000);
    if (msLeft < 5000) await new Promise((r) => setTimeout(r, msLeft + 50));
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
    // 20 right sign-ins in flight together (their forms sent once all are in).
    const release: (() => void)[] = [];
    const replies = Array.from({ length: 20 }, () => {
      const body = new Readable({ read() {} });
      release.push(() => body.push(null));
      body.push(new URLSearchParams({ api_key: API_KEY }).toString());
      return request(`${base}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const end of release) end();
    expect(await Promise.all(replies)).to.deep.equal(Array(20).fill(303));
    for (let i = 0; i < 10; i += 1) expect((await login(base, `wrong-${i}`)).status).to.equal(401);
    expect((await login(base, 'wrong-11')).status).to.equal(429);
    // Past the limit a right key gets the same 429: the answer tells a guesser nothing.
    expect((await login(base, API_KEY)).status).to.equal(429);
    for (const k of await client.keys(`${stack.config.REDIS_PREFIX}:rl:login:*`)) await client.del(k);
  });

  it('a session ends when its API key is no longer configured (removed from API_KEYS, API restarted)', async () => {
    const other = await session(base, OTHER_KEY);
    const kept = await session(base, API_KEY);
    // Same Redis and prefix, OTHER_KEY removed: what a restart after revoking it looks like.
    const restarted = await startStack({ redisUrl: redis.url, worker: false, env: { API_KEYS: API_KEY } });
    try {
      const revoked = await call(restarted.url, '/dashboard/api/overview', { cookie: other.cookie });
      expect(revoked.status).to.equal(401);
      const page = await call(restarted.url, '/dashboard', { cookie: other.cookie });
      expect(page.text).to.include('name="api_key"').and.not.include('csrf-token');
      const action = await act(restarted.url, other, '/dashboard/api/tasks/00000000-0000-4000-8000-000000000000/cancel', other.csrf);
      expect(action.status).to.equal(401);
      expect((await call(restarted.url, '/dashboard/api/overview', { cookie: kept.cookie })).status).to.equal(200);
    } finally {
      await restarted.close();
    }
  });

  it('a right key sets an HttpOnly, SameSite=Strict session cookie; Redis keeps the tenant, never the key', async () => {
    const r = await login(base, API_KEY);
    expect(r.status).to.equal(303);
    expect(r.headers.location).to.equal('/dashboard');
    const cookies = setCookies(r);
    expect(cookies).to.have.length(1);
    const c = cookies[0] as string;
    expect(c).to.match(/^th_session=[A-Za-z0-9_-]{43};/);
    expect(c).to.include('HttpOnly').and.include('SameSite=Strict').and.include('Path=/dashboard');
    expect(c).not.to.include('Secure'); // plain http on loopback
    const id = (c.split(';')[0] as string).slice('th_session='.length);

    const keys = await sessionKeys();
    expect(keys.length).to.be.greaterThan(0);
    for (const k of keys) {
      expect(k).not.to.include(id); // stored under a digest of the cookie value
      const h = await client.hgetall(k);
      expect(Object.keys(h).sort()).to.deep.equal(['created', 'csrf', 'key', 'tenant']);
      expect(h.tenant).to.be.oneOf([tenantOf(API_KEY), tenantOf(OTHER_KEY)]);
      // Which key made the session, as its SHA-256 digest (what a `sha256:` API_KEYS entry holds).
      expect(h.key).to.be.oneOf([sha256hex(API_KEY), sha256hex(OTHER_KEY)]);
      expect(h.tenant).to.equal((h.key as string).slice(0, 16));
      expect(JSON.stringify(h)).not.to.include(API_KEY);
      const ttl = await client.pttl(k);
      expect(ttl).to.be.greaterThan(0).and.at.most(480 * 60_000);
    }

    const page = await call(base, '/dashboard', { cookie: `th_session=${id}` });
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/<meta name="csrf-token" content="[A-Za-z0-9_-]{43}">/);
    expect(page.text).to.include('data-readonly="false"');
    expect(page.text).not.to.include(API_KEY);
  });

  it('refuses a cross-site login and a non-form body', async () => {
    const cross = await login(base, API_KEY, { origin: 'https://evil.example' });
    expect(cross.status).to.equal(403);
    expect(setCookies(cross)).to.deep.equal([]);
    const json = await call(base, '/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: API_KEY }) });
    expect(json.status).to.equal(415);
    const big = await call(base, '/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `api_key=${'a'.repeat(10_000)}` });
    expect(big.status).to.equal(413);
  });

  it('data endpoints need a session: 401 problem+json without one or with a forged cookie', async () => {
    for (const path of ['/dashboard/api/overview', '/dashboard/api/tasks', '/dashboard/api/deliveries', '/dashboard/api/webhooks']) {
      for (const cookie of [undefined, `th_session=${'A'.repeat(43)}`]) {
        const r = await call(base, path, cookie ? { cookie } : {});
        expect(r.status, path).to.equal(401);
        expect(r.headers['content-type']).to.match(/^application\/problem\+json/);
        expect(r.json.code).to.equal('unauthorized');
      }
    }
  });

  it('serves the overview: Redis status, version, four queues with 60-minute series', async () => {
    const s = await session(base, API_KEY);
    const r = await call(base, '/dashboard/api/overview', { cookie: s.cookie });
    expect(r.status).to.equal(200);
    expect(r.json.redis).to.include({ ok: true });
    expect(r.json.version).to.be.a('string');
    const queues = r.json.queues as { queue: string; completed: number[] }[];
    expect(queues.map((q) => q.queue)).to.deep.equal(['video', 'image', 'audio', 'debug']);
    for (const q of queues) expect(q.completed).to.have.length(60);
    expect((r.json.charts as { minutes: number[] }).minutes).to.have.length(60);
    expect(r.json.task_types).to.include('debug.echo');
  });

  it("another tenant's session can neither see nor act on this tenant's tasks", async () => {
    const id = await submit(API_KEY);
    const mine = await session(base, API_KEY);
    const theirs = await session(base, OTHER_KEY);

    const listed = await call(base, '/dashboard/api/tasks', { cookie: mine.cookie });
    expect((listed.json.tasks as { task_id: string }[]).map((t) => t.task_id)).to.include(id);
    const foreignList = await call(base, '/dashboard/api/tasks', { cookie: theirs.cookie });
    expect((foreignList.json.tasks as { task_id: string }[]).map((t) => t.task_id)).not.to.include(id);
    const foreignSearch = await call(base, `/dashboard/api/tasks?id=${id}`, { cookie: theirs.cookie });
    expect(foreignSearch.json.tasks).to.deep.equal([]);
    const ownSearch = await call(base, `/dashboard/api/tasks?id=${id}`, { cookie: mine.cookie });
    expect((ownSearch.json.tasks as { task_id: string }[]).map((t) => t.task_id)).to.deep.equal([id]);
    expect((await call(base, `/dashboard/api/tasks/${id}`, { cookie: theirs.cookie })).status).to.equal(404);
    expect((await call(base, `/dashboard/api/tasks/${id}`, { cookie: mine.cookie })).status).to.equal(200);

    for (const action of ['cancel', 'retry', 'callback/resend']) {
      const r = await act(base, theirs, `/dashboard/api/tasks/${id}/${action}`, theirs.csrf);
      expect(r.status, action).to.equal(404);
    }
    expect(await client.hget(`${stack.config.REDIS_PREFIX}:task:${id}`, 'status')).to.equal('queued');
  });

  it('actions without, with a wrong, or with another session’s CSRF token are 403; the right token acts', async () => {
    const id = await submit(API_KEY, { callback_url: 'http://127.0.0.1:9/cb' });
    const s = await session(base, API_KEY);
    const other = await session(base, API_KEY);
    const path = `/dashboard/api/tasks/${id}/cancel`;
    for (const token of [undefined, '', 'x'.repeat(43), other.csrf]) {
      const r = await act(base, s, path, token);
      expect(r.status, String(token)).to.equal(403);
      expect(r.json.code).to.equal('csrf_failed');
    }
    const cross = await act(base, s, path, s.csrf, {}, { origin: 'http://evil.example' });
    expect(cross.status).to.equal(403);
    expect((await act(base, null, path, s.csrf)).status).to.equal(401);
    expect(await client.hget(`${stack.config.REDIS_PREFIX}:task:${id}`, 'status')).to.equal('queued');

    const cancelled = await act(base, s, path, s.csrf);
    expect(cancelled.status).to.equal(200);
    expect((cancelled.json.task as { status: string }).status).to.equal('cancelled');

    const resent = await act(base, s, `/dashboard/api/tasks/${id}/callback/resend`, s.csrf);
    expect(resent.status).to.equal(202);
    expect((resent.json.delivery as { state: string }).state).to.equal('pending');

    const retried = await act(base, s, `/dashboard/api/tasks/${id}/retry`, s.csrf);
    expect(retried.status).to.equal(202);
    expect((retried.json.task as { status: string }).status).to.equal('queued');
    // Same conflict answers as the API.
    const again = await act(base, s, `/dashboard/api/tasks/${id}/retry`, s.csrf);
    expect(again.status).to.equal(409);
    expect(again.json.code).to.equal('task_not_retryable');
  });

  it('task detail, dead letters and webhooks answer for the session’s tenant', async () => {
    const id = await submit(API_KEY, { metadata: { note: '<script>alert(1)</script>' } });
    const s = await session(base, API_KEY);
    const r = await call(base, `/dashboard/api/tasks/${id}`, { cookie: s.cookie });
    expect(r.status).to.equal(200);
    expect((r.json.task as { metadata: unknown }).metadata).to.deep.equal({ note: '<script>alert(1)</script>' });
    expect(r.json.delivery).to.equal(null);
    expect((await call(base, '/dashboard/api/deliveries', { cookie: s.cookie })).json).to.deep.equal({ deliveries: [], next_cursor: null });
    expect((await call(base, '/dashboard/api/webhooks', { cookie: s.cookie })).json).to.deep.equal({ webhooks: [] });
    expect((await call(base, '/dashboard/api/webhooks/wh_000000000000000000000000/deliveries', { cookie: s.cookie })).status).to.equal(404);
    expect((await call(base, '/dashboard/api/tasks?status=bogus', { cookie: s.cookie })).status).to.equal(400);
  });

  it('serves its assets from its own origin and nothing else', async () => {
    const js = await call(base, '/dashboard/assets/main.js');
    expect(js.status).to.equal(200);
    expect(js.headers['content-type']).to.match(/^text\/javascript/);
    const uplot = await call(base, '/dashboard/assets/uPlot.iife.min.js');
    expect(uplot.status).to.equal(200);
    expect(uplot.text).to.include('uPlot');
    expect((await call(base, '/dashboard/assets/uPlot.min.css')).headers['content-type']).to.match(/^text\/css/);
    expect((await call(base, '/dashboard/assets/package.json')).status).to.equal(404);
    expect((await call(base, '/dashboard/assets/..%2F..%2Fconfig.ts')).status).to.equal(404);
  });

  it('logout needs the CSRF token, deletes the session and clears the cookie', async () => {
    const s = await session(base, API_KEY);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const bad = await call(base, '/dashboard/logout', { method: 'POST', cookie: s.cookie, headers: form, body: 'csrf=wrong' });
    expect(bad.status).to.equal(403);
    expect((await call(base, '/dashboard/api/overview', { cookie: s.cookie })).status).to.equal(200);
    const r = await call(base, '/dashboard/logout', { method: 'POST', cookie: s.cookie, headers: form, body: `csrf=${s.csrf}` });
    expect(r.status).to.equal(303);
    expect(r.headers.location).to.equal('/dashboard/login');
    expect(setCookies(r)[0]).to.match(/^th_session=;.*Max-Age=0/);
    expect((await call(base, '/dashboard/api/overview', { cookie: s.cookie })).status).to.equal(401);
  });

  describe('read-only mode, behind https', () => {
    let ro: Stack;
    let s: DashSession;
    before(async () => {
      ro = await startStack({ redisUrl: redis.url, worker: false, env: { DASHBOARD_READONLY: 'true', PUBLIC_BASE_URL: 'https://tasks.example.com' } });
      s = await session(ro.url, API_KEY);
    });
    after(async () => {
      await ro?.close();
    });

    it('marks the session cookie Secure when the public URL is https', async () => {
      const r = await login(ro.url, API_KEY);
      expect(setCookies(r)[0]).to.include('Secure').and.include('HttpOnly');
    });

    it('marks the page read-only and refuses every action with 403', async () => {
      const page = await call(ro.url, '/dashboard', { cookie: s.cookie });
      expect(page.text).to.include('data-readonly="true"');
      const ov = await call(ro.url, '/dashboard/api/overview', { cookie: s.cookie });
      expect(ov.json.readonly).to.equal(true);
      const id = await submit(API_KEY);
      for (const path of [`/dashboard/api/tasks/${id}/cancel`, `/dashboard/api/tasks/${id}/retry`, `/dashboard/api/tasks/${id}/callback/resend`, '/dashboard/api/deliveries/x.1/resend', '/dashboard/api/webhooks/wh_000000000000000000000000/recover']) {
        const r = await act(ro.url, s, path, s.csrf, { since: new Date().toISOString() });
        expect(r.status, path).to.equal(403);
        expect(r.json.code).to.equal('dashboard_readonly');
      }
      expect(await client.hget(`${stack.config.REDIS_PREFIX}:task:${id}`, 'status')).to.equal('queued');
    });
  });
});
