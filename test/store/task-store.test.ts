import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type TaskStore } from '../../src/store/task-store.js';
import { taskRecordFields } from '../../src/queue/producer.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** A record as the producer writes it, with every kind of character a client may send. */
const record = taskRecordFields('t1', 'abcd', {
  task_type: 'debug.echo',
  queue: 'debug',
  task_data: { s: 'é 🎬 "quoted" back\\slash /path \u2028 \u0000 \t', n: 12345678901234567890 },
  callback_url: 'https://x.example/cb?token=a&b=c',
  metadata: { k: 'v', empty: '' },
  project_id: null,
  options: {},
}, 1_700_000_000_000);

describe('store: task store start', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: TaskStore;
  const keys = createKeys('tst');
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    store = createTaskStore(client, keys);
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(() => redis.flush());

  it('marks the task running and returns its record exactly, every string intact', async () => {
    await client.hset(keys.task('t1'), record);
    const v = await store.start('t1', 2);
    expect(v.kind).to.equal('run');
    const fields = (v as { fields: Record<string, string> }).fields;
    expect(fields).to.deep.equal({ ...record, status: 'running', runs: '1', started: fields.started });
    expect(Number(fields.started)).to.be.closeTo(Date.now(), 5000);
    expect(JSON.parse(fields.data ?? '')).to.deep.equal(JSON.parse(record.data ?? ''));
    // What the worker gets is what Redis now holds.
    expect(fields).to.deep.equal(await client.hgetall(keys.task('t1')));
  });

  it('missing, done, cancel and lost verdicts', async () => {
    expect(await store.start('nope', 2)).to.deep.equal({ kind: 'missing' });
    await client.hset(keys.task('d'), { ...record, id: 'd', status: 'completed' });
    expect(await store.start('d', 2)).to.deep.equal({ kind: 'done', status: 'completed' });
    await client.hset(keys.task('c'), { ...record, id: 'c', cancel: '1' });
    const c = await store.start('c', 2);
    expect(c.kind).to.equal('cancel');
    expect((c as { fields: Record<string, string> }).fields).to.include({ id: 'c', cancel: '1', status: 'queued' });
    await client.hset(keys.task('l'), { ...record, id: 'l', status: 'running', lost: '2' });
    const l = await store.start('l', 2);
    expect(l.kind).to.equal('lost');
    expect((l as { fields: Record<string, string> }).fields).to.include({ id: 'l', lost: '3' });
    expect((l as { fields: Record<string, string> }).fields).to.deep.equal(await client.hgetall(keys.task('l')));
  });
});
