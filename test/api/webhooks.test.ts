import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { expectValidSignatures } from '../helpers/signatures.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { KEY_B, call, expectProblem, fields } from './harness.js';
import { TENANT_A, startWebhookApi, type WebhookHarness } from '../webhooks/harness.js';
import { MAX_SUBSCRIPTIONS_PER_TENANT } from '../../src/webhooks/store.js';

const SUB_FIELDS = [
  'id', 'url', 'events', 'description', 'headers', 'filter', 'is_active',
  'created_at', 'updated_at', 'disabled_reason', 'disabled_at',
];

describe('api: webhook subscriptions', () => {
  let h: WebhookHarness;
  let rx: Receiver;
  before(async () => {
    h = await startWebhookApi({ WEBHOOK_SECRET_OVERLAP_H: '24' });
    rx = await startReceiver();
  });
  after(async () => {
    await rx.close();
    await h.close();
  });
  beforeEach(async () => {
    await h.client.flushall();
    rx.received.length = 0;
    rx.script([], 200);
  });

  const create = (body: Record<string, unknown>, key?: string) =>
    call(h, 'POST', '/api/v1/webhooks', { body, ...(key === undefined ? {} : { key }) });
  const minimal = { url: 'https://hooks.example/in?token=abc', events: ['task.completed'] };

  describe('create, read, update, delete', () => {
    it('creates a subscription (201, Location) and shows its secret only in that answer', async () => {
      const r = await create({
        url: 'https://hooks.example/in?token=abc',
        events: ['task.completed', 'task.failed', 'task.completed'],
        description: 'orders',
        headers: { 'X-Team': 'shop', Authorization: 'Bearer xyz' },
        filter: { task_types: ['debug.echo'], project_id: 'shop:eu-1' },
      });
      expect(r.status, r.text).to.equal(201);
      const id = r.json.id as string;
      expect(id).to.match(/^wh_[0-9a-f]{24}$/);
      expect(r.headers.location).to.equal(`/api/v1/webhooks/${id}`);
      expect(r.json.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from((r.json.secret as string).slice(6), 'base64')).to.have.length(32);
      expect(r.json).to.deep.include({
        url: 'https://hooks.example/in?token=abc',
        events: ['task.completed', 'task.failed'],
        description: 'orders',
        headers: { 'X-Team': 'shop', Authorization: 'Bearer xyz' },
        filter: { task_types: ['debug.echo'], project_id: 'shop:eu-1' },
        is_active: true,
        disabled_reason: null,
        disabled_at: null,
      });

      const stored = await h.client.hgetall(h.wk.sub(id));
      expect(stored).to.include({ id, tenant: TENANT_A, active: '1', secret: r.json.secret });
      expect(await h.client.zscore(h.wk.tenantIndex(TENANT_A), id)).to.equal(stored.created);

      const got = await call(h, 'GET', `/api/v1/webhooks/${id}`);
      expect(got.status).to.equal(200);
      expect(Object.keys(got.json).sort()).to.deep.equal([...SUB_FIELDS].sort());
      expect(got.text).not.to.include('whsec_');
      const listed = await call(h, 'GET', '/api/v1/webhooks');
      expect(listed.text).not.to.include('whsec_');
    });

    it('accepts ["*"] and is_active false; defaults description, headers and filter', async () => {
      const r = await create({ url: 'https://hooks.example/all', events: ['*'], is_active: false });
      expect(r.status, r.text).to.equal(201);
      expect(r.json).to.deep.include({ events: ['*'], is_active: false, description: null, headers: {}, filter: {} });
    });

    it('patches fields; is_active=true clears the disable marks', async () => {
      const id = (await create(minimal)).json.id as string;
      await h.client.hset(h.wk.sub(id), { active: '0', disabled_reason: 'endpoint answered 410 Gone', disabled_at: '1700000000000', failing_since: '1699990000000' });
      const disabled = await call(h, 'GET', `/api/v1/webhooks/${id}`);
      expect(disabled.json).to.include({ is_active: false, disabled_reason: 'endpoint answered 410 Gone', disabled_at: '2023-11-14T22:13:20.000Z' });

      const r = await call(h, 'PATCH', `/api/v1/webhooks/${id}`, {
        body: { is_active: true, events: ['task.progress'], description: null, headers: { 'X-A': '1' }, filter: { project_id: 'p1' } },
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.deep.include({ is_active: true, events: ['task.progress'], description: null, headers: { 'X-A': '1' }, filter: { project_id: 'p1' }, disabled_reason: null, disabled_at: null });
      const stored = await h.client.hgetall(h.wk.sub(id));
      expect(stored).to.not.have.any.keys('disabled_reason', 'disabled_at', 'failing_since');
      expect(Date.parse(r.json.updated_at as string)).to.be.at.least(Date.parse(r.json.created_at as string));

      const bad = await call(h, 'PATCH', `/api/v1/webhooks/${id}`, { body: { events: [] , nope: 1 } });
      expect(fields(expectProblem(bad, 400))).to.have.members(['events', 'nope']);
    });

    it('deletes the subscription, its index entries and stats (204, then 404)', async () => {
      const id = (await create(minimal)).json.id as string;
      await h.client.hset(h.wk.stats(id), { total: '3' });
      await h.client.lpush(h.wk.latency(id), '12');
      await h.client.zadd(h.wk.deliveries(id), Date.now(), 'x.1.task.completed.' + id);
      const r = await call(h, 'DELETE', `/api/v1/webhooks/${id}`);
      expect(r.status).to.equal(204);
      expect(await h.client.exists(h.wk.sub(id), h.wk.stats(id), h.wk.latency(id), h.wk.deliveries(id))).to.equal(0);
      expect(await h.client.zscore(h.wk.tenantIndex(TENANT_A), id)).to.equal(null);
      expectProblem(await call(h, 'GET', `/api/v1/webhooks/${id}`), 404);
      expectProblem(await call(h, 'DELETE', `/api/v1/webhooks/${id}`), 404);
    });

    it('lists the event types, webhook.test included', async () => {
      const r = await call(h, 'GET', '/api/v1/webhooks/event-types');
      expect(r.status).to.equal(200);
      const types = (r.json.event_types as { type: string; description: string }[]).map((t) => t.type);
      expect(types).to.deep.equal(['task.started', 'task.progress', 'task.completed', 'task.failed', 'task.cancelled', 'webhook.test']);
    });
  });

  describe('pagination', () => {
    it('pages 25 subscriptions newest first with limit 10, without duplicates', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await create({ ...minimal, description: `n${i}` })).json.id as string);
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const r = await call(h, 'GET', `/api/v1/webhooks?limit=10${q}`);
        expect(r.status, r.text).to.equal(200);
        const page = r.json.webhooks as { id: string; created_at: string }[];
        sizes.push(page.length);
        seen.push(...page.map((w) => w.id));
        cursor = r.json.next_cursor as string | null;
      } while (cursor !== null && sizes.length < 10);
      expect(sizes).to.deep.equal([10, 10, 5]);
      expect(new Set(seen).size).to.equal(25);
      // Newest first; within one millisecond, by id descending (the sorted set's order).
      const created = await Promise.all(ids.map(async (id) => ({ id, at: Number(await h.client.hget(h.wk.sub(id), 'created')) })));
      const expected = created.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((c) => c.id);
      expect(seen).to.deep.equal(expected);
      expect(seen).to.have.members(ids);
    });

    it('clamps limit to 100 and refuses a bad limit or cursor', async () => {
      for (let i = 0; i < 3; i++) await create(minimal);
      const r = await call(h, 'GET', '/api/v1/webhooks?limit=500');
      expect(r.status).to.equal(200);
      expect(r.json.webhooks).to.have.length(3);
      expect(r.json.next_cursor).to.equal(null);
      expect(fields(expectProblem(await call(h, 'GET', '/api/v1/webhooks?limit=0'), 400))).to.deep.equal(['limit']);
      expect(fields(expectProblem(await call(h, 'GET', '/api/v1/webhooks?limit=abc'), 400))).to.deep.equal(['limit']);
      expect(fields(expectProblem(await call(h, 'GET', '/api/v1/webhooks?cursor=zzz'), 400))).to.deep.equal(['cursor']);
    });
  });

  describe('validation', () => {
    it('names every bad field at once', async () => {
      const r = await create({
        url: 'ftp://hooks.example/x',
        events: ['task.completed', 'task.exploded'],
        description: 'x'.repeat(257),
        headers: { 'Webhook-Signature': 'forged', 'bad name': 'v', 'Content-Type': 'text/plain', 'X-Ok': 'line\r\nbreak' },
        filter: { project_id: 'bad id!', extra: true },
        is_active: 'yes',
        surprise: 1,
      });
      const p = expectProblem(r, 400);
      expect(p.code).to.equal('validation_failed');
      expect(fields(p)).to.include.members([
        'url', 'events.1', 'description', 'headers.Webhook-Signature', 'headers.bad name', 'headers.Content-Type',
        'headers.X-Ok', 'filter.project_id', 'filter.extra', 'is_active', 'surprise',
      ]);
    });

    it('refuses "*" mixed with other events, an empty list and too many headers', async () => {
      expect(fields(expectProblem(await create({ ...minimal, events: ['*', 'task.failed'] }), 400))).to.deep.equal(['events']);
      expect(fields(expectProblem(await create({ ...minimal, events: [] }), 400))).to.deep.equal(['events']);
      const headers = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']));
      expect(fields(expectProblem(await create({ ...minimal, headers }), 400))).to.deep.equal(['headers']);
      for (const name of ['x-webhook-signature', 'Webhook-Id', 'webhook-timestamp', 'Host', 'User-Agent', 'content-length']) {
        expect(fields(expectProblem(await create({ ...minimal, headers: { [name]: 'v' } }), 400))).to.deep.equal([`headers.${name}`]);
      }
    });

    it('checks the url with the egress policy', async () => {
      for (const url of ['http://internal.test/hook', 'http://10.0.0.5/hook', 'https://user:pw@hooks.example/x', 'not a url']) {
        const p = expectProblem(await create({ ...minimal, url }), 400);
        expect(fields(p), url).to.deep.equal(['url']);
      }
    });

    it('refuses an unknown task type in the filter, listing the known ones', async () => {
      const p = expectProblem(await create({ ...minimal, filter: { task_types: ['debug.echo', 'debug.nope'] } }), 400);
      expect(fields(p)).to.deep.equal(['filter.task_types.1']);
      expect(p.known_task_types).to.include('debug.echo');
    });
  });

  describe('tenancy', () => {
    it('parallel creates cannot pass the per-key cap: the rest are 409 subscription_limit', async () => {
      const m = h.client.multi();
      for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_TENANT - 5; i++) m.zadd(h.wk.tenantIndex(TENANT_A), i, `wh_${String(i).padStart(24, '0')}`);
      await m.exec();
      const replies = await Promise.all(Array.from({ length: 20 }, () => create(minimal)));
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 201), statuses.join(',')).to.have.length(5);
      for (const r of replies.filter((x) => x.status !== 201)) {
        expect(expectProblem(r, 409)).to.include({ code: 'subscription_limit', limit: MAX_SUBSCRIPTIONS_PER_TENANT });
      }
      expect(await h.client.zcard(h.wk.tenantIndex(TENANT_A))).to.equal(MAX_SUBSCRIPTIONS_PER_TENANT);
      // A refused create leaves no hash behind (the other key under the prefix is the index).
      expect(await h.client.keys(`${h.wk.subPrefix}*`)).to.have.length(5 + 1);
      // The answer is in the OpenAPI document.
      const doc = (await call(h, 'GET', '/openapi.json', { key: null })).json as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
      expect(doc.paths['/api/v1/webhooks']?.post?.responses).to.have.property('409');
    });

    it("hides one key's subscriptions from another", async () => {
      const id = (await create(minimal)).json.id as string;
      const mine = (await create(minimal, KEY_B)).json.id as string;
      for (const [method, path, body] of [
        ['GET', `/api/v1/webhooks/${id}`, undefined],
        ['PATCH', `/api/v1/webhooks/${id}`, { is_active: false }],
        ['DELETE', `/api/v1/webhooks/${id}`, undefined],
        ['POST', `/api/v1/webhooks/${id}/rotate-secret`, undefined],
        ['POST', `/api/v1/webhooks/${id}/test`, undefined],
        ['GET', `/api/v1/webhooks/${id}/stats`, undefined],
        ['GET', `/api/v1/webhooks/${id}/deliveries`, undefined],
        ['POST', `/api/v1/webhooks/${id}/recover`, { since: '2020-01-01T00:00:00Z' }],
      ] as const) {
        const r = await call(h, method, path, { key: KEY_B, ...(body === undefined ? {} : { body }) });
        expect(expectProblem(r, 404).code, `${method} ${path}`).to.equal('not_found');
      }
      const list = await call(h, 'GET', '/api/v1/webhooks', { key: KEY_B });
      expect((list.json.webhooks as { id: string }[]).map((w) => w.id)).to.deep.equal([mine]);
      expect(await h.client.hget(h.wk.sub(id), 'active')).to.equal('1');
    });
  });

  describe('secret rotation and the test event', () => {
    it('sends a signed webhook.test with the custom headers and records it as a delivery', async () => {
      const created = await create({ url: `${rx.url}/hook?token=t1`, events: ['*'], headers: { 'X-Team': 'shop', Authorization: 'Bearer abc' } });
      const id = created.json.id as string;
      const r = await call(h, 'POST', `/api/v1/webhooks/${id}/test`);
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.include({ status_code: 200, outcome: 'delivered', error: null, response_excerpt: 'ok' });
      expect(r.json.duration_ms).to.be.a('number').and.at.least(0);
      expect(r.json.delivery_id).to.match(new RegExp(`^test\\.[0-9a-f]{16}\\.${id}$`));

      expect(rx.received).to.have.length(1);
      const got = rx.received[0]!;
      expect(got.path).to.equal('/hook?token=t1');
      expect(got.headers['x-team']).to.equal('shop');
      expect(got.headers.authorization).to.equal('Bearer abc');
      expect(got.json).to.deep.include({ type: 'webhook.test', data: { webhook_id: id, message: 'This is a test event from taskhook.' } });
      expect(Math.abs(Date.parse(got.json.timestamp as string) - Date.now())).to.be.below(60_000);
      expectValidSignatures(got, created.json.secret as string);
      // One signature only: nothing was rotated.
      expect(String(got.headers['webhook-signature']).split(' ')).to.have.length(1);

      const dlv = await call(h, 'GET', `/api/v1/deliveries/${r.json.delivery_id as string}`);
      expect(dlv.status, dlv.text).to.equal(200);
      expect(dlv.json).to.deep.include({ webhook_id: id, task_id: null, event: 'webhook.test', state: 'delivered', url: `${rx.url}/hook` });
      expect(dlv.json.webhook_message_id).to.equal(got.headers['webhook-id']);
      const attempts = dlv.json.attempts as Record<string, unknown>[];
      expect(attempts).to.have.length(1);
      expect(attempts[0]).to.include({ n: 1, status_code: 200, outcome: 'delivered', error: null, response_excerpt: 'ok' });
      const listed = await call(h, 'GET', `/api/v1/webhooks/${id}/deliveries`);
      expect((listed.json.deliveries as { id: string }[]).map((d) => d.id)).to.deep.equal([r.json.delivery_id]);
    });

    it('reports a failing receiver in the answer', async () => {
      rx.script([500]);
      const id = (await create({ url: `${rx.url}/hook`, events: ['*'] })).json.id as string;
      const r = await call(h, 'POST', `/api/v1/webhooks/${id}/test`);
      expect(r.status).to.equal(200);
      expect(r.json).to.include({ status_code: 500, outcome: 'failed', error: 'HTTP 500', response_excerpt: 'nope' });
      const dlv = await call(h, 'GET', `/api/v1/deliveries/${r.json.delivery_id as string}`);
      expect(dlv.json.state).to.equal('failed');
    });

    it('rotates the secret; during the overlap a test event carries both signatures, each verifying', async () => {
      const created = await create({ url: `${rx.url}/hook`, events: ['*'] });
      const id = created.json.id as string;
      const oldSecret = created.json.secret as string;
      const before = Date.now();
      const r = await call(h, 'POST', `/api/v1/webhooks/${id}/rotate-secret`);
      expect(r.status, r.text).to.equal(200);
      expect(Object.keys(r.json)).to.deep.equal(['secret']);
      const newSecret = r.json.secret as string;
      expect(newSecret).to.match(/^whsec_/).and.not.equal(oldSecret);
      const stored = await h.client.hgetall(h.wk.sub(id));
      expect(stored.secret).to.equal(newSecret);
      expect(stored.prev_secret).to.equal(oldSecret);
      const until = Number(stored.prev_until);
      expect(until).to.be.at.least(before + 24 * 3_600_000).and.at.most(Date.now() + 24 * 3_600_000);
      expect((await call(h, 'GET', `/api/v1/webhooks/${id}`)).text).not.to.include('whsec_');

      const t = await call(h, 'POST', `/api/v1/webhooks/${id}/test`);
      expect(t.json.outcome).to.equal('delivered');
      const got = rx.received[0]!;
      const sigs = String(got.headers['webhook-signature']).split(' ');
      expect(sigs).to.have.length(2);
      expect(sigs.every((s) => s.startsWith('v1,'))).to.equal(true);
      for (const secret of [newSecret, oldSecret]) {
        // The official verifier accepts the header if any of its signatures matches.
        new Webhook(secret).verify(got.body, {
          'webhook-id': String(got.headers['webhook-id']),
          'webhook-timestamp': String(got.headers['webhook-timestamp']),
          'webhook-signature': String(got.headers['webhook-signature']),
        });
        // …and each secret matches its own one.
        const only = sigs.filter((s) => {
          try {
            new Webhook(secret).verify(got.body, { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': s });
            return true;
          } catch {
            return false;
          }
        });
        expect(only, secret === newSecret ? 'new' : 'old').to.have.length(1);
      }
      // A stranger's secret verifies neither.
      expect(() =>
        new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').verify(got.body, {
          'webhook-id': String(got.headers['webhook-id']),
          'webhook-timestamp': String(got.headers['webhook-timestamp']),
          'webhook-signature': String(got.headers['webhook-signature']),
        }),
      ).to.throw();
      // The new secret's signature comes first; x-webhook-signature has room for one: the new secret's.
      expectValidSignatures({ ...got, headers: { ...got.headers, 'webhook-signature': sigs[0] } }, newSecret);
    });

    it('signs with the new secret only once the overlap is over', async () => {
      const created = await create({ url: `${rx.url}/hook`, events: ['*'] });
      const id = created.json.id as string;
      const r = await call(h, 'POST', `/api/v1/webhooks/${id}/rotate-secret`);
      await h.client.hset(h.wk.sub(id), 'prev_until', String(Date.now() - 1));
      await call(h, 'POST', `/api/v1/webhooks/${id}/test`);
      const got = rx.received[0]!;
      expect(String(got.headers['webhook-signature']).split(' ')).to.have.length(1);
      expectValidSignatures(got, r.json.secret as string);
    });
  });
});
