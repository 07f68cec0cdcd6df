import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { KEY_B, call, expectProblem, fields } from './harness.js';
import { TENANT_A, TENANT_B, seedDelivery, startWebhookApi, type WebhookHarness } from '../webhooks/harness.js';

const DELIVERY_FIELDS = [
  'id', 'webhook_id', 'task_id', 'event', 'state', 'webhook_message_id', 'url',
  'created_at', 'next_attempt_at', 'completed_at', 'attempts',
];

describe('api: deliveries and replay', () => {
  let h: WebhookHarness;
  before(async () => {
    h = await startWebhookApi();
  });
  after(async () => {
    await h.close();
  });
  beforeEach(async () => {
    await h.client.flushall();
  });

  const newSub = async (key?: string): Promise<string> => {
    const r = await call(h, 'POST', '/api/v1/webhooks', {
      body: { url: 'https://hooks.example/in', events: ['*'] },
      ...(key === undefined ? {} : { key }),
    });
    expect(r.status, r.text).to.equal(201);
    return r.json.id as string;
  };
  const ids = (r: { json: Record<string, unknown> }) => (r.json.deliveries as { id: string }[]).map((d) => d.id);
  const attempt = (n: number, status: number | null, outcome: string) => ({
    n, at: new Date(1_700_000_000_000 + n * 1000).toISOString(), status_code: status, duration_ms: 10 * n,
    error: status === 200 ? null : `HTTP ${status}`, outcome,
  });

  /** Four deliveries of one subscription, one per state, a second apart (t0 … t0+3 s). */
  async function seedFour(sub: string, t0: number) {
    const task = randomUUID();
    const d = (event: string) => `${task}.1.${event}.${sub}`;
    await seedDelivery(h, { id: d('task.completed'), tenant: TENANT_A, sub, task, state: 'delivered', created: t0, attempts: [attempt(1, 200, 'delivered')] });
    await seedDelivery(h, {
      id: d('task.failed'), tenant: TENANT_A, sub, task, event: 'task.failed', state: 'failed', created: t0 + 1000, deadAt: t0 + 9000,
      attempts: [attempt(1, 503, 'retry'), attempt(2, 503, 'failed')],
    });
    await seedDelivery(h, { id: `${task}.progress.${sub}`, tenant: TENANT_A, sub, task, event: 'task.progress', state: 'pending', created: t0 + 2000 });
    await seedDelivery(h, { id: d('task.started'), tenant: TENANT_A, sub, task, event: 'task.started', state: 'delivering', created: t0 + 3000 });
    return { delivered: d('task.completed'), failed: d('task.failed'), pending: `${task}.progress.${sub}`, delivering: d('task.started') };
  }

  describe('reading', () => {
    it("lists a subscription's deliveries newest first, with filters and cursors", async () => {
      const sub = await newSub();
      const t0 = Date.parse('2025-01-01T00:00:00Z');
      const d = await seedFour(sub, t0);
      const all = await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries`);
      expect(all.status, all.text).to.equal(200);
      expect(ids(all)).to.deep.equal([d.delivering, d.pending, d.failed, d.delivered]);
      expect(all.json.next_cursor).to.equal(null);

      expect(ids(await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?status=failed`))).to.deep.equal([d.failed]);
      expect(ids(await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?event=task.progress`))).to.deep.equal([d.pending]);
      expect(ids(await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?since=2025-01-01T00:00:01.500Z`))).to.deep.equal([d.delivering, d.pending]);

      const p1 = await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?limit=2`);
      expect(ids(p1)).to.deep.equal([d.delivering, d.pending]);
      const p2 = await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?limit=2&cursor=${p1.json.next_cursor as string}`);
      expect(ids(p2)).to.deep.equal([d.failed, d.delivered]);
      expect(p2.json.next_cursor).to.equal(null);

      for (const q of ['status=lost', 'event=task.nope', 'since=yesterday', 'limit=-1', 'color=red']) {
        expect(fields(expectProblem(await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?${q}`), 400)), q).to.deep.equal([q.split('=')[0]]);
      }
    });

    it('pages through a filtered list without duplicates or gaps', async () => {
      const sub = await newSub();
      const t0 = Date.now() - 100_000;
      const failed: string[] = [];
      for (let i = 0; i < 30; i++) {
        const id = `${randomUUID()}.1.task.completed.${sub}`;
        const state = i % 2 === 0 ? 'failed' : 'delivered';
        if (state === 'failed') failed.push(id);
        // Pairs share a millisecond: cursors must be exact inside ties.
        await seedDelivery(h, { id, tenant: TENANT_A, sub, state, created: t0 + Math.floor(i / 2) });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 10; guard++) {
        const q: string = cursor === null ? '' : `&cursor=${cursor}`;
        const r = await call(h, 'GET', `/api/v1/webhooks/${sub}/deliveries?status=failed&limit=4${q}`);
        expect((r.json.deliveries as { state: string }[]).every((x) => x.state === 'failed')).to.equal(true);
        seen.push(...ids(r));
        cursor = r.json.next_cursor as string | null;
        if (cursor === null) break;
      }
      expect(seen).to.have.length(15);
      expect(seen).to.have.members(failed);
    });

    it('shows one delivery (url redacted, attempts in order) to its own key only', async () => {
      const sub = await newSub();
      const d = await seedFour(sub, Date.parse('2025-01-01T00:00:00Z'));
      const r = await call(h, 'GET', `/api/v1/deliveries/${d.failed}`);
      expect(r.status, r.text).to.equal(200);
      expect(Object.keys(r.json).sort()).to.deep.equal([...DELIVERY_FIELDS].sort());
      expect(r.json).to.deep.include({
        id: d.failed,
        webhook_id: sub,
        task_id: d.failed.split('.')[0],
        event: 'task.failed',
        state: 'failed',
        url: 'https://hooks.example/in',
        created_at: '2025-01-01T00:00:01.000Z',
        next_attempt_at: null,
        completed_at: '2025-01-01T00:00:06.000Z',
      });
      expect(r.json.webhook_message_id).to.equal(await h.client.hget(h.keys.delivery(d.failed), 'msg'));
      expect(r.text).not.to.include('s3cret');
      expect(r.json.attempts).to.deep.equal([
        { n: 1, at: '2023-11-14T22:13:21.000Z', status_code: 503, duration_ms: 10, error: 'HTTP 503', outcome: 'retry' },
        { n: 2, at: '2023-11-14T22:13:22.000Z', status_code: 503, duration_ms: 20, error: 'HTTP 503', outcome: 'failed' },
      ]);
      const pending = await call(h, 'GET', `/api/v1/deliveries/${d.pending}`);
      expect(pending.json).to.include({ next_attempt_at: '2025-01-01T00:00:03.000Z', completed_at: null, state: 'pending' });

      expectProblem(await call(h, 'GET', `/api/v1/deliveries/${d.failed}`, { key: KEY_B }), 404);
      expectProblem(await call(h, 'GET', '/api/v1/deliveries/nope.1'), 404);
    });

    it('lists the dead letters of the key only, most recently failed first', async () => {
      const sub = await newSub();
      const d = await seedFour(sub, Date.parse('2025-01-01T00:00:00Z'));
      const cbTask = randomUUID();
      await seedDelivery(h, { id: `${cbTask}.1`, tenant: TENANT_A, task: cbTask, state: 'failed', created: Date.parse('2025-01-02T00:00:00Z'), deadAt: Date.parse('2025-01-02T00:01:00Z') });
      const other = randomUUID();
      await seedDelivery(h, { id: `${other}.1`, tenant: TENANT_B, task: other, state: 'failed', created: 1, deadAt: 2 });

      const r = await call(h, 'GET', '/api/v1/deliveries?status=failed');
      expect(r.status, r.text).to.equal(200);
      expect(ids(r)).to.deep.equal([`${cbTask}.1`, d.failed]);
      expect((r.json.deliveries as { webhook_id: string | null }[])[0]?.webhook_id).to.equal(null);
      expect(ids(await call(h, 'GET', '/api/v1/deliveries'))).to.deep.equal([`${cbTask}.1`, d.failed]);
      expect(ids(await call(h, 'GET', '/api/v1/deliveries', { key: KEY_B }))).to.deep.equal([`${other}.1`]);
      expect(fields(expectProblem(await call(h, 'GET', '/api/v1/deliveries?status=pending'), 400))).to.deep.equal(['status']);
    });
  });

  describe('replay', () => {
    it('resends a failed delivery: pending, due now, same msg, out of the dead letters; due for the dispatcher', async () => {
      const sub = await newSub();
      const d = await seedFour(sub, Date.now() - 60_000);
      const msg = await h.client.hget(h.keys.delivery(d.failed), 'msg');
      const before = Date.now();
      const r = await call(h, 'POST', `/api/v1/deliveries/${d.failed}/resend`);
      expect(r.status, r.text).to.equal(202);
      expect(r.json).to.include({ id: d.failed, state: 'pending', webhook_message_id: msg, completed_at: null });
      expect(r.json.attempts).to.have.length(2);
      const stored = await h.client.hgetall(h.keys.delivery(d.failed));
      expect(stored).to.include({ state: 'pending', n: '0', msg });
      expect(stored).not.to.have.property('done');
      const due = Number(await h.client.zscore(h.keys.due, d.failed));
      expect(due).to.be.at.least(before).and.at.most(Date.now());
      expect(Number(stored.next)).to.equal(due);
      expect(await h.client.zscore(h.wk.dead(TENANT_A), d.failed)).to.equal(null);
      // Due now: any dispatcher's next claim picks it up.
      expect(await h.client.zrangebyscore(h.keys.due, '-inf', Date.now())).to.include(d.failed);
    });

    it('refuses to resend a delivery in flight (409), of another key (404), of a disabled (409) or deleted webhook (409)', async () => {
      const sub = await newSub();
      const d = await seedFour(sub, Date.now() - 60_000);
      const busy = expectProblem(await call(h, 'POST', `/api/v1/deliveries/${d.delivering}/resend`), 409);
      expect(busy.code).to.equal('delivery_in_flight');
      expect(await h.client.hget(h.keys.delivery(d.delivering), 'state')).to.equal('delivering');

      expectProblem(await call(h, 'POST', `/api/v1/deliveries/${d.failed}/resend`, { key: KEY_B }), 404);
      expect(await h.client.hget(h.keys.delivery(d.failed), 'state')).to.equal('failed');

      // Disabled webhook: the worker would fail it unsent, so it is refused until re-enabled.
      await h.client.hset(h.wk.sub(sub), { active: '0', disabled_reason: 'endpoint answered 410 Gone' });
      expect(expectProblem(await call(h, 'POST', `/api/v1/deliveries/${d.failed}/resend`), 409).code).to.equal('webhook_disabled');
      expect(expectProblem(await call(h, 'POST', `/api/v1/webhooks/${sub}/recover`, { body: { since: '2020-01-01T00:00:00Z' } }), 409).code).to.equal('webhook_disabled');
      expect(await h.client.hget(h.keys.delivery(d.failed), 'state')).to.equal('failed');
      expect((await call(h, 'PATCH', `/api/v1/webhooks/${sub}`, { body: { is_active: true } })).status).to.equal(200);

      expect((await call(h, 'DELETE', `/api/v1/webhooks/${sub}`)).status).to.equal(204);
      const gone = expectProblem(await call(h, 'POST', `/api/v1/deliveries/${d.failed}/resend`), 409);
      expect(gone.code).to.equal('webhook_deleted');
      expectProblem(await call(h, 'POST', `/api/v1/deliveries/${d.failed}/resend`, { key: KEY_B }), 404);
    });

    it('recovers every failed delivery of a webhook since a time', async () => {
      const sub = await newSub();
      const otherSub = await newSub();
      const t0 = Date.parse('2025-03-01T00:00:00Z');
      const mk = async (s: string, i: number, state: 'failed' | 'delivered') => {
        const id = `${randomUUID()}.1.task.completed.${s}`;
        await seedDelivery(h, { id, tenant: TENANT_A, sub: s, state, created: t0 + i * 60_000, ...(state === 'failed' ? { deadAt: t0 + i * 60_000 + 1 } : {}) });
        return id;
      };
      const old = await mk(sub, 0, 'failed');
      const recent = [await mk(sub, 10, 'failed'), await mk(sub, 11, 'failed')];
      const ok = await mk(sub, 12, 'delivered');
      const elsewhere = await mk(otherSub, 13, 'failed');

      const bad = expectProblem(await call(h, 'POST', `/api/v1/webhooks/${sub}/recover`, { body: { since: 'last week' } }), 400);
      expect(fields(bad)).to.deep.equal(['since']);
      const r = await call(h, 'POST', `/api/v1/webhooks/${sub}/recover`, { body: { since: '2025-03-01T00:05:00Z' } });
      expect(r.status, r.text).to.equal(202);
      expect(r.json).to.deep.equal({ resent: 2 });
      for (const id of recent) expect(await h.client.hget(h.keys.delivery(id), 'state')).to.equal('pending');
      for (const id of recent) expect(await h.client.zscore(h.keys.due, id)).to.not.equal(null);
      expect(await h.client.hget(h.keys.delivery(old), 'state')).to.equal('failed');
      expect(await h.client.hget(h.keys.delivery(ok), 'state')).to.equal('delivered');
      expect(await h.client.hget(h.keys.delivery(elsewhere), 'state')).to.equal('failed');
      expect(await h.client.zrange(h.wk.dead(TENANT_A), 0, -1)).to.have.members([old, elsewhere]);
    });

    it("resends a task's own callback: 404 without one, 409 before the task finished, 404 for another key", async () => {
      const seedTask = async (fields: Record<string, string>) => {
        const id = randomUUID();
        await h.client.hset(h.keys.task(id), { id, type: 'debug.echo', tenant: TENANT_A, status: 'completed', created: '1', ...fields });
        return id;
      };
      const noCb = await seedTask({});
      expectProblem(await call(h, 'POST', `/api/v1/tasks/${noCb}/callback/resend`), 404);
      const running = await seedTask({ status: 'running', cb: 'https://hooks.example/cb' });
      expect(expectProblem(await call(h, 'POST', `/api/v1/tasks/${running}/callback/resend`), 409).code).to.equal('task_not_finished');

      const done = await seedTask({ cb: 'https://hooks.example/cb?token=x', dlv: '' });
      const dlv = `${done}.1`;
      await h.client.hset(h.keys.task(done), 'dlv', dlv);
      await seedDelivery(h, { id: dlv, tenant: TENANT_A, task: done, url: 'https://hooks.example/cb?token=x', state: 'failed', created: Date.now() - 5000, deadAt: Date.now() - 1000, attempts: [attempt(1, 500, 'failed')] });
      expectProblem(await call(h, 'POST', `/api/v1/tasks/${done}/callback/resend`, { key: KEY_B }), 404);
      expect(await h.client.hget(h.keys.delivery(dlv), 'state')).to.equal('failed');

      const r = await call(h, 'POST', `/api/v1/tasks/${done}/callback/resend`);
      expect(r.status, r.text).to.equal(202);
      expect(r.json).to.include({ id: dlv, webhook_id: null, task_id: done, state: 'pending', url: 'https://hooks.example/cb' });
      expect(await h.client.zscore(h.keys.due, dlv)).to.not.equal(null);
      expect(await h.client.zscore(h.wk.dead(TENANT_A), dlv)).to.equal(null);
      expectProblem(await call(h, 'POST', `/api/v1/tasks/${randomUUID()}/callback/resend`), 404);
    });
  });

  describe('stats', () => {
    it('computes counters, success rate, percentiles and pending from the seeded keys', async () => {
      const sub = await newSub();
      await seedFour(sub, Date.now() - 60_000);
      await h.client.hset(h.wk.stats(sub), { total: '10', succeeded: '7', failed: '2', last_success: '1735689600000', last_failure: '1735693200000' });
      // 1..100 ms, newest first, as the worker pushes them.
      await h.client.lpush(h.wk.latency(sub), ...Array.from({ length: 100 }, (_, i) => String(i + 1)));
      const r = await call(h, 'GET', `/api/v1/webhooks/${sub}/stats`);
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.deep.equal({
        total: 10,
        succeeded: 7,
        failed: 2,
        pending: 2,
        success_rate: 7 / 9,
        last_success_at: '2025-01-01T00:00:00.000Z',
        last_failure_at: '2025-01-01T01:00:00.000Z',
        latency_ms: { p50: 50, p95: 95 },
      });
    });

    it('answers nulls for a webhook with no data', async () => {
      const sub = await newSub();
      const r = await call(h, 'GET', `/api/v1/webhooks/${sub}/stats`);
      expect(r.json).to.deep.equal({
        total: 0, succeeded: 0, failed: 0, pending: 0, success_rate: null,
        last_success_at: null, last_failure_at: null, latency_ms: { p50: null, p95: null },
      });
    });
  });
});
