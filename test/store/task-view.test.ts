import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/store/keys.js';
import { readTaskView, renderTaskView } from '../../src/store/task-view.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const base = {
  id: 't1',
  type: 'debug.echo',
  queue: 'debug',
  tenant: 'abcd',
  project: '',
  status: 'queued',
  data: '{}',
  meta: '{"k":"v"}',
  cb: '',
  opts: '{}',
  created: '1700000000000',
  progress: '0',
  runs: '0',
  lost: '0',
  gen: '1',
  trace: '',
};

describe('store: renderTaskView', () => {
  it('renders a queued task without a callback', () => {
    const v = renderTaskView(base, null, []);
    expect(v).to.deep.equal({
      task_id: 't1',
      task_type: 'debug.echo',
      project_id: null,
      status: 'queued',
      progress: 0,
      created_at: '2023-11-14T22:13:20.000Z',
      started_at: null,
      completed_at: null,
      processing_time: null,
      metadata: { k: 'v' },
      callback: { url: null, state: 'none', attempts: [] },
    });
  });

  it('a running task with a callback is pending, whatever a stale delivery says', () => {
    const v = renderTaskView({ ...base, status: 'running', started: '1700000001000', progress: '42', cb: 'https://a:b@x.example/p?q=1' }, { state: 'delivered' }, ['{"n":1}']);
    expect(v).to.include({ status: 'running', progress: 42, started_at: '2023-11-14T22:13:21.000Z', processing_time: null });
    expect(v.callback).to.deep.equal({ url: 'https://x.example/p', state: 'pending', attempts: [] });
  });

  it('a finished task without a delivery yet is pending; with one, takes its state and attempts', () => {
    const done = { ...base, status: 'completed', cb: 'https://x.example/', started: '1700000000000', finished: '1700000001234', result: '{"a":1}' };
    expect(renderTaskView(done, null, []).callback.state).to.equal('pending');
    const v = renderTaskView(done, { state: 'delivering' }, [
      '{"n":1,"at":"2024-01-01T00:00:00.000Z","status_code":500,"duration_ms":3,"error":"HTTP 500","outcome":"retry"}',
      'not json',
    ]);
    expect(v.processing_time).to.equal(1.234);
    expect(v.result).to.deep.equal({ a: 1 });
    expect(v.callback.state).to.equal('delivering');
    expect(v.callback.attempts).to.deep.equal([
      { n: 1, at: '2024-01-01T00:00:00.000Z', status_code: 500, duration_ms: 3, error: 'HTTP 500', outcome: 'retry' },
      { n: 2, at: null, status_code: null, duration_ms: null, error: null, outcome: null },
    ]);
  });

  it('a failed task renders its error as { message, error_type, traceback? }; corrupt fields do not throw', () => {
    const v = renderTaskView({ ...base, status: 'failed', error: '{"error":"bad","error_type":"timeout"}', meta: '{oops' }, null, []);
    expect(v.error).to.deep.equal({ message: 'bad', error_type: 'timeout' });
    expect(v.metadata).to.deep.equal({});
    const corrupt = renderTaskView({ ...base, status: 'failed', error: 'nope', progress: 'NaN', created: 'x' }, null, []);
    expect(corrupt.error).to.deep.equal({ message: 'unknown error', error_type: 'error' });
    expect(corrupt).to.include({ progress: 0, created_at: null });
  });
});

describe('store: readTaskView', () => {
  let redis: TestRedis;
  let client: Redis;
  const keys = createKeys('thv');
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });

  it('returns null for an unknown task', async () => {
    expect(await readTaskView(client, keys, 'missing')).to.equal(null);
  });

  it('reads the task, its first-generation delivery and attempts in one round trip', async () => {
    await client.hset(keys.task('a'), { ...base, id: 'a', status: 'completed', cb: 'https://x.example/', dlv: 'a.1', result: '{}' });
    await client.hset(keys.delivery('a.1'), { state: 'delivered' });
    await client.rpush(keys.attempts('a.1'), '{"n":1,"status_code":204}');
    const sent: string[] = [];
    const monitor = await client.monitor();
    monitor.on('monitor', (_t: string, args: string[]) => sent.push(String(args[0]).toLowerCase()));
    await new Promise((r) => setTimeout(r, 50));
    const got = await readTaskView(client, keys, 'a');
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    expect(got?.tenant).to.equal('abcd');
    expect(got?.view.callback).to.deep.equal({
      url: 'https://x.example/',
      state: 'delivered',
      attempts: [{ n: 1, at: null, status_code: 204, duration_ms: null, error: null, outcome: null }],
    });
    expect(sent).to.deep.equal(['hgetall', 'hgetall', 'lrange']);
  });

  it('lists the attempts an earlier version kept in a list first, then those in the delivery hash', async () => {
    await client.hset(keys.task('c'), { ...base, id: 'c', status: 'completed', cb: 'https://x.example/', dlv: 'c.1', result: '{}' });
    // Two attempts before the upgrade (the list), one after (record.lua writes att:N).
    await client.rpush(keys.attempts('c.1'), '{"n":1,"status_code":503}', '{"n":2,"status_code":503}');
    await client.hset(keys.delivery('c.1'), { state: 'delivered', att: '1', 'att:1': '{"n":3,"status_code":204}' });
    const got = await readTaskView(client, keys, 'c');
    expect(got?.view.callback.attempts.map((a) => [a.n, a.status_code])).to.deep.equal([
      [1, 503],
      [2, 503],
      [3, 204],
    ]);
  });

  it('follows dlv to a later generation', async () => {
    await client.hset(keys.task('b'), { ...base, id: 'b', status: 'failed', cb: 'https://x.example/', dlv: 'b.3', error: '{}' });
    await client.hset(keys.delivery('b.1'), { state: 'delivered' });
    await client.hset(keys.delivery('b.3'), { state: 'failed' });
    const got = await readTaskView(client, keys, 'b');
    expect(got?.view.callback.state).to.equal('failed');
  });
});
