import { expect } from 'chai';
import type { Redis } from 'ioredis';
import sinon from 'sinon';
import { MAX_SUBSCRIPTIONS_PER_TENANT, createSubscriptionStore, parseSubscription, renderSubscription, signingSecrets, webhookKeys, type SubscriptionInput, type SubscriptionStore } from '../../src/webhooks/store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const input = (over: Partial<SubscriptionInput> = {}): SubscriptionInput => ({
  url: 'https://hooks.example/in',
  events: ['task.completed'],
  description: null,
  headers: {},
  filter: {},
  is_active: true,
  ...over,
});

describe('webhooks: subscription store', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: SubscriptionStore;
  let clock = 1_700_000_000_000;
  const k = webhookKeys('tst');
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    store = createSubscriptionStore(client, 'tst', { now: () => clock });
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    await client.flushall();
  });

  it('writes the documented hash and tenant index', async () => {
    const s = await store.create('t1', input({ description: 'd', headers: { 'X-A': '1' }, filter: { project_id: 'p' } }));
    const h = await client.hgetall(k.sub(s.id));
    expect(h).to.deep.include({
      id: s.id, tenant: 't1', url: 'https://hooks.example/in', events: '["task.completed"]', description: 'd',
      headers: '{"X-A":"1"}', filter: '{"project_id":"p"}', active: '1', secret: s.secret,
      created: String(clock), updated: String(clock),
    });
    expect(await client.zscore(k.tenantIndex('t1'), s.id)).to.equal(String(clock));
  });

  it('returns the active subscriptions of one tenant only, in one round trip', async () => {
    const a = await store.create('t1', input());
    await store.create('t1', input({ is_active: false }));
    const c = await store.create('t1', input({ events: ['*'] }));
    await store.create('t2', input());
    await store.activeForTenant('t1'); // loads the script
    const spy = sinon.spy(client, 'sendCommand');
    try {
      const active = await store.activeForTenant('t1');
      // Created in the same millisecond: the index orders ties by id, so compare as sets.
      expect(active.map((s) => s.id).sort()).to.deep.equal([a.id, c.id].sort());
      expect(active.find((s) => s.id === c.id)).to.deep.include({ events: ['*'], active: true, tenant: 't1' });
      expect(spy.callCount).to.equal(1);
    } finally {
      spy.restore();
    }
    expect(await store.activeForTenant('nobody')).to.deep.equal([]);
  });

  it('scopes get, update, rotate and remove to the tenant', async () => {
    const s = await store.create('t1', input());
    expect(await store.get('t2', s.id)).to.equal(null);
    expect(await store.update('t2', s.id, { is_active: false })).to.equal(null);
    expect(await store.rotateSecret('t2', s.id, 1000)).to.equal(null);
    expect(await store.remove('t2', s.id)).to.equal(false);
    expect((await store.get('t1', s.id))?.active).to.equal(true);
    // A PATCH after a DELETE must not leave a half hash behind.
    expect(await store.remove('t1', s.id)).to.equal(true);
    expect(await store.update('t1', s.id, { description: 'x' })).to.equal(null);
    expect(await client.exists(k.sub(s.id))).to.equal(0);
  });

  it('rotates: the old secret signs until now + overlap, then only the new one', async () => {
    const s = await store.create('t1', input());
    clock += 5000;
    const r = await store.rotateSecret('t1', s.id, 3_600_000);
    expect(r?.prevUntil).to.equal(clock + 3_600_000);
    const after = await store.get('t1', s.id);
    expect(after).to.include({ secret: r?.secret, prevSecret: s.secret, prevUntil: clock + 3_600_000, updated: clock });
    expect(signingSecrets(after!, clock)).to.deep.equal({ secret: r?.secret, previous: s.secret });
    expect(signingSecrets(after!, clock + 3_600_000)).to.deep.equal({ secret: r?.secret });
  });

  it('caps the subscriptions of one tenant', async () => {
    const m = client.multi();
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_TENANT; i++) m.zadd(k.tenantIndex('t1'), i, `wh_${String(i).padStart(24, '0')}`);
    await m.exec();
    try {
      await store.create('t1', input());
      expect.fail('created past the cap');
    } catch (err) {
      expect(err).to.include({ code: 'subscription_limit', status: 409 });
    }
  });

  it('holds the cap under parallel creates, and a refused create writes nothing', async () => {
    const m = client.multi();
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_TENANT - 3; i++) m.zadd(k.tenantIndex('t1'), i, `wh_${String(i).padStart(24, '0')}`);
    await m.exec();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => store.create('t1', input())));
    const created = outcomes.filter((o) => o.status === 'fulfilled');
    expect(created).to.have.length(3);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).to.include({ code: 'subscription_limit', status: 409 });
    expect(await client.zcard(k.tenantIndex('t1'))).to.equal(MAX_SUBSCRIPTIONS_PER_TENANT);
    const hashes = (await client.keys(`${k.subPrefix}*`)).filter((key) => key !== k.tenantIndex('t1'));
    expect(hashes).to.have.length(3);
    // Another tenant is not affected by t1's cap.
    expect((await store.create('t2', input())).tenant).to.equal('t2');
  });

  it('parses and renders total-ly: corrupt JSON fields become defaults, secrets never render', () => {
    const s = parseSubscription({ id: 'wh_1', tenant: 't', url: 'https://x.example', secret: 'whsec_x', events: '{bad', headers: '[1]', filter: 'null', active: '1', created: '1000' });
    expect(s).to.include({ description: null, active: true, prevSecret: null, disabledAt: null });
    expect(s?.events).to.deep.equal([]);
    expect(s?.headers).to.deep.equal({});
    const view = renderSubscription(s!);
    expect(JSON.stringify(view)).not.to.include('whsec_');
    expect(view.created_at).to.equal('1970-01-01T00:00:01.000Z');
    expect(parseSubscription({})).to.equal(null);
  });
});
