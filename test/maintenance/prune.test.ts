/**
 * Retention over a real Redis: exactly the old, finished tasks and the old,
 * settled deliveries go (with every set entry that lists them); stats stay;
 * one run at a time under the lock.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { pruneDeliveries, pruneTasks, runRetention } from '../../src/maintenance/prune.js';
import { createKeys } from '../../src/store/keys.js';
import { tenantTasksKey } from '../../src/store/task-list.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const keys = createKeys('pr');
const DAY = 86_400_000;
const NOW = 1_750_000_000_000;
const RETAIN = 30 * DAY;
const T1 = '1111111111111111';
const T2 = '2222222222222222';
const SUB = 'wh_0123456789abcdef01234567';

const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const ago = (days: number): string => String(NOW - days * DAY);

describe('maintenance/prune', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let client: Redis;

  async function task(n: number, tenant: string, createdDaysAgo: number, status: string, finishedDaysAgo?: number, gen = 1): Promise<void> {
    const fields: Record<string, string> = { id: id(n), tenant, status, created: ago(createdDaysAgo), gen: String(gen) };
    if (finishedDaysAgo !== undefined) {
      fields.finished = ago(finishedDaysAgo);
      fields.dlv = `${id(n)}.${gen}`;
    }
    await client.hset(keys.task(id(n)), fields);
    await client.zadd(tenantTasksKey(keys.prefix, tenant), Number(ago(createdDaysAgo)), id(n));
  }

  async function delivery(dlvId: string, state: string, createdDaysAgo: number, opts: { done?: number; sub?: string; tenant?: string } = {}): Promise<void> {
    const f: Record<string, string> = { id: dlvId, state, created: ago(createdDaysAgo), tenant: opts.tenant ?? T1, sub: opts.sub ?? '', event: 'task.completed' };
    if (opts.done !== undefined) f.done = ago(opts.done);
    await client.hset(keys.delivery(dlvId), f);
    await client.rpush(keys.attempts(dlvId), '{"n":1}');
    if (opts.sub) await client.zadd(`${keys.webhookPrefix}${opts.sub}:dlv`, Number(ago(createdDaysAgo)), dlvId);
    if (state === 'failed') await client.zadd(keys.dead(opts.tenant ?? T1), Number(ago(opts.done ?? createdDaysAgo)), dlvId);
    if (state === 'pending') await client.zadd(keys.due, NOW, dlvId);
  }

  const exists = async (key: string): Promise<boolean> => (await client.exists(key)) === 1;

  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(() => redis.flush());

  it('pruneTasks deletes exactly the finished tasks past the cutoff, with their callback deliveries and index entries', async () => {
    await task(1, T1, 40, 'completed', 35, 2); // old, retried once: both generations' deliveries go
    await delivery(`${id(1)}.1`, 'failed', 38, { done: 37 });
    await delivery(`${id(1)}.2`, 'delivered', 36, { done: 35 });
    await task(2, T1, 40, 'failed', 31);
    await task(3, T1, 40, 'cancelled', 29); // finished inside the window
    await task(4, T1, 40, 'running');
    await task(5, T1, 40, 'queued');
    await task(6, T1, 1, 'completed', 1);
    await delivery(`${id(6)}.1`, 'delivered', 1, { done: 1 });
    await client.zadd(tenantTasksKey(keys.prefix, T1), Number(ago(50)), id(7)); // record long gone
    await task(8, T2, 60, 'completed', 59);
    for (let n = 10; n < 17; n++) await task(n, T2, 45, 'failed', 44);

    // batch 2: several script calls per index, and kept entries must not stall the walk.
    const deleted = await pruneTasks(client, keys, { olderThanMs: RETAIN, now: NOW, batch: 2 });
    expect(deleted).to.equal(2 + 8);
    for (const n of [1, 2, 8, 10, 16]) expect(await exists(keys.task(id(n))), `task ${n}`).to.equal(false);
    for (const n of [3, 4, 5, 6]) expect(await exists(keys.task(id(n))), `task ${n}`).to.equal(true);
    expect(await exists(keys.delivery(`${id(1)}.1`))).to.equal(false);
    expect(await exists(keys.attempts(`${id(1)}.1`))).to.equal(false);
    expect(await exists(keys.delivery(`${id(1)}.2`))).to.equal(false);
    expect(await client.zscore(keys.dead(T1), `${id(1)}.1`)).to.equal(null);
    expect(await exists(keys.delivery(`${id(6)}.1`))).to.equal(true);
    const index = await client.zrange(tenantTasksKey(keys.prefix, T1), 0, -1);
    expect([...index].sort()).to.deep.equal([id(3), id(4), id(5), id(6)]);
    expect(await exists(tenantTasksKey(keys.prefix, T2))).to.equal(false);

    expect(await pruneTasks(client, keys, { olderThanMs: RETAIN, now: NOW })).to.equal(0);
  });

  it('pruneDeliveries deletes old settled deliveries everywhere they are listed, keeps the rest and the stats', async () => {
    const stats = { total: '7', succeeded: '3', failed: '1', last_success: ago(1), last_failure: ago(40) };
    await client.hset(`${keys.webhookPrefix}${SUB}:stats`, stats);
    await client.hset(`${keys.webhookPrefix}${SUB}`, { id: SUB, tenant: T1 });
    const s = (n: number) => `${id(100 + n)}.1.task.completed.${SUB}`;
    await delivery(s(1), 'delivered', 40, { done: 40, sub: SUB });
    await delivery(s(2), 'failed', 40, { done: 39, sub: SUB });
    await delivery(s(3), 'pending', 40, { sub: SUB });
    await delivery(s(4), 'dropped', 40, { sub: SUB });
    await delivery(s(5), 'delivered', 2, { done: 2, sub: SUB });
    await delivery(s(6), 'delivered', 40, { done: 1, sub: SUB }); // resent and delivered yesterday
    await delivery(s(7), 'delivering', 40, { sub: SUB });
    await client.zadd(`${keys.webhookPrefix}${SUB}:dlv`, Number(ago(45)), 'gone.1');
    await client.zadd(keys.dead(T2), Number(ago(45)), 'gone.2');
    await delivery(`${id(200)}.1`, 'delivered', 40, { done: 40 }); // a task callback: in no set
    await delivery(`${id(201)}.1`, 'failed', 40, { done: 40, tenant: T2 });
    await delivery(`${id(202)}.1`, 'delivered', 3, { done: 3 });

    const deleted = await pruneDeliveries(client, keys, { olderThanMs: RETAIN, now: NOW, batch: 2 });
    expect(deleted).to.equal(5);
    for (const d of [s(1), s(2), s(4), `${id(200)}.1`, `${id(201)}.1`]) {
      expect(await exists(keys.delivery(d)), d).to.equal(false);
      expect(await exists(keys.attempts(d)), d).to.equal(false);
    }
    for (const d of [s(3), s(5), s(6), s(7), `${id(202)}.1`]) expect(await exists(keys.delivery(d)), d).to.equal(true);
    const log = await client.zrange(`${keys.webhookPrefix}${SUB}:dlv`, 0, -1);
    expect([...log].sort()).to.deep.equal([s(3), s(5), s(6), s(7)].sort());
    expect(await client.zrange(keys.dead(T1), 0, -1)).to.deep.equal([]);
    expect(await exists(keys.dead(T2))).to.equal(false);
    expect(await client.zscore(keys.due, s(3))).to.not.equal(null);
    expect(await client.hgetall(`${keys.webhookPrefix}${SUB}:stats`)).to.deep.equal(stats);
  });

  it('runRetention runs once at a time under the lock and releases it', async () => {
    await task(1, T1, 40, 'completed', 35);
    const lock = `${keys.prefix}:lock:prune`;
    await client.set(lock, 'someone-else', 'PX', 60_000);
    const opts = { taskRetentionMs: RETAIN, deliveryRetentionMs: RETAIN, now: NOW };
    expect(await runRetention(client, keys, opts)).to.deep.equal({ ran: false });
    expect(await exists(keys.task(id(1)))).to.equal(true);
    expect(await client.get(lock)).to.equal('someone-else');

    await client.del(lock);
    const runs = await Promise.all([runRetention(client, keys, opts), runRetention(client, keys, opts)]);
    expect(runs.filter((r) => r.ran)).to.have.length(1);
    expect(runs).to.deep.include({ ran: false });
    expect(runs).to.deep.include({ ran: true, tasks: 1, deliveries: 0 });
    expect(await exists(keys.task(id(1)))).to.equal(false);
    expect(await exists(lock)).to.equal(false);
  });

  it('stops between batches once aborted', async () => {
    for (let n = 0; n < 6; n++) await task(n, T1, 40, 'completed', 35);
    const stop = new AbortController();
    stop.abort();
    expect(await pruneTasks(client, keys, { olderThanMs: RETAIN, now: NOW, batch: 2, signal: stop.signal })).to.equal(0);
    expect(await client.zcard(tenantTasksKey(keys.prefix, T1))).to.equal(6);
  });
});
