/**
 * The tenant task list over a real Redis: order, ties, filters, since,
 * cursors, the scan bound, callback_state, and the producer's index writes.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { ValidationError } from '../../src/errors.js';
import { createProducer, taskRecordFields, type NewTask } from '../../src/queue/producer.js';
import { createKeys } from '../../src/store/keys.js';
import { listTasks, renderListItem, tenantTasksKey, type TaskListItem, type TaskListQuery } from '../../src/store/task-list.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const keys = createKeys('tl');
const T = 'aaaaaaaaaaaaaaaa';
const OTHER = 'bbbbbbbbbbbbbbbb';

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

const base: NewTask = {
  task_type: 'debug.echo',
  queue: 'debug',
  task_data: {},
  callback_url: null,
  metadata: {},
  project_id: null,
  options: {},
};

describe('store/task-list', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let client: Redis;

  async function seed(id: string, created: number, extra: Partial<NewTask> = {}, fields: Record<string, string> = {}, tenant = T): Promise<void> {
    await client
      .multi()
      .hset(keys.task(id), { ...taskRecordFields(id, tenant, { ...base, ...extra }, created), ...fields })
      .zadd(tenantTasksKey(keys.prefix, tenant), created, id)
      .exec();
  }

  async function all(q: Omit<TaskListQuery, 'cursor'>): Promise<{ items: TaskListItem[]; pages: number }> {
    const items: TaskListItem[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listTasks(client, keys, T, { ...q, cursor });
      items.push(...page.items);
      cursor = page.next_cursor ?? undefined;
      pages += 1;
      if (pages > 100) throw new Error('no end of pages');
    } while (cursor);
    return { items, pages };
  }

  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(() => redis.flush());

  it('lists newest first and pages over ties (equal created ms) with no duplicates or gaps', async () => {
    // 30 tasks, three per millisecond: cursors must be exact inside runs of equal scores.
    for (let i = 0; i < 30; i++) await seed(uuid(i), 1_700_000_000_000 + Math.floor(i / 3));
    await seed(uuid(99), 1_700_000_000_050, {}, {}, OTHER);
    const { items, pages } = await all({ limit: 7 });
    expect(pages).to.equal(5);
    const ids = items.map((t) => t.task_id);
    expect(ids).to.have.length(30);
    expect(new Set(ids).size).to.equal(30);
    expect(ids).to.not.include(uuid(99));
    const created = items.map((t) => Date.parse(t.created_at as string));
    for (let i = 1; i < created.length; i++) expect(created[i]).to.be.at.most(created[i - 1] as number);
    expect(ids[0]).to.be.oneOf([uuid(27), uuid(28), uuid(29)]);
  });

  it('filters by status, task_type, project_id and since', async () => {
    const t0 = 1_700_000_000_000;
    await seed(uuid(1), t0, { task_type: 'debug.sleep', project_id: 'p1' });
    await seed(uuid(2), t0 + 1000, { project_id: 'p2' }, { status: 'failed', finished: String(t0 + 1100) });
    await seed(uuid(3), t0 + 2000, { task_type: 'debug.sleep' }, { status: 'completed', finished: String(t0 + 2100) });
    await seed(uuid(4), t0 + 3000, { project_id: 'p1' }, { status: 'running' });
    const ids = async (q: Partial<TaskListQuery>) => (await all({ limit: 20, ...q })).items.map((t) => t.task_id);
    expect(await ids({})).to.deep.equal([uuid(4), uuid(3), uuid(2), uuid(1)]);
    expect(await ids({ status: 'queued' })).to.deep.equal([uuid(1)]);
    expect(await ids({ status: 'failed' })).to.deep.equal([uuid(2)]);
    expect(await ids({ task_type: 'debug.sleep' })).to.deep.equal([uuid(3), uuid(1)]);
    expect(await ids({ project_id: 'p1' })).to.deep.equal([uuid(4), uuid(1)]);
    expect(await ids({ since: t0 + 2000 })).to.deep.equal([uuid(4), uuid(3)]);
    expect(await ids({ since: t0 + 2001 })).to.deep.equal([uuid(4)]);
    expect(await ids({ status: 'completed', task_type: 'debug.echo' })).to.deep.equal([]);
  });

  it('stops after maxScan candidates and hands back a cursor to continue', async () => {
    for (let i = 0; i < 12; i++) await seed(uuid(i), 1_700_000_000_000 + i, {}, i === 0 ? { status: 'failed' } : {});
    const first = await listTasks(client, keys, T, { status: 'failed', limit: 5, maxScan: 5 });
    expect(first.items).to.deep.equal([]);
    expect(first.next_cursor).to.be.a('string');
    const second = await listTasks(client, keys, T, { status: 'failed', limit: 5, maxScan: 5, cursor: first.next_cursor as string });
    expect(second.items).to.deep.equal([]);
    const third = await listTasks(client, keys, T, { status: 'failed', limit: 5, maxScan: 5, cursor: second.next_cursor as string });
    expect(third.items.map((t) => t.task_id)).to.deep.equal([uuid(0)]);
    expect(third.next_cursor).to.equal(null);
  });

  it('renders compact items with callback_state from the delivery', async () => {
    const t0 = 1_700_000_000_000;
    await seed(uuid(1), t0, { callback_url: 'http://127.0.0.1:1/cb', project_id: 'p' }, {
      status: 'completed',
      finished: String(t0 + 500),
      progress: '100',
      dlv: `${uuid(1)}.1`,
    });
    await client.hset(keys.delivery(`${uuid(1)}.1`), { state: 'delivered' });
    await seed(uuid(2), t0 + 1, { callback_url: 'http://127.0.0.1:1/cb' });
    await seed(uuid(3), t0 + 2);
    const { items } = await all({ limit: 10 });
    expect(items[2]).to.deep.equal({
      task_id: uuid(1),
      task_type: 'debug.echo',
      project_id: 'p',
      status: 'completed',
      progress: 100,
      created_at: new Date(t0).toISOString(),
      completed_at: new Date(t0 + 500).toISOString(),
      callback_state: 'delivered',
    });
    expect(items[1]?.callback_state).to.equal('pending');
    expect(items[0]?.callback_state).to.equal('none');
    expect(items[0]?.completed_at).to.equal(null);
  });

  it('skips index entries whose record is gone', async () => {
    await seed(uuid(1), 1);
    await seed(uuid(2), 2);
    await client.del(keys.task(uuid(2)));
    expect((await all({ limit: 10 })).items.map((t) => t.task_id)).to.deep.equal([uuid(1)]);
  });

  it('refuses a cursor it did not issue', async () => {
    try {
      await listTasks(client, keys, T, { limit: 10, cursor: 'not*a*cursor' });
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).issues[0]?.field).to.equal('cursor');
    }
  });

  it('renderListItem treats an unknown status as queued and clamps progress', () => {
    const item = renderListItem(uuid(1), [T, 'x', '', 'weird', '250', '1000', null, null, null], null);
    expect(item).to.include({ status: 'queued', progress: 100, project_id: null, callback_state: 'none' });
  });

  it('the producer indexes submitted tasks by creation time', async () => {
    const producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: 5000 });
    try {
      const [a, b] = await producer.submit(T, [base, base]);
      const index = await client.zrange(tenantTasksKey(keys.prefix, T), 0, -1, 'WITHSCORES');
      expect(index).to.have.length(4);
      expect(index.filter((_, i) => i % 2 === 0).sort()).to.deep.equal([a?.task_id, b?.task_id].sort());
      expect(Number(index[1])).to.equal(Date.parse(a?.created_at as string));
    } finally {
      await producer.close();
    }
  });
});
