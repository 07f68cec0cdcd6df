import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createProducer, taskRecordFields, type NewTask, type Producer } from '../../src/queue/producer.js';
import { createKeys } from '../../src/store/keys.js';
import { IdempotencyInFlightError } from '../../src/errors.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const task = (over: Partial<NewTask> = {}): NewTask => ({
  task_type: 'debug.echo',
  queue: 'debug',
  task_data: { x: 1 },
  callback_url: null,
  metadata: {},
  project_id: null,
  options: {},
  ...over,
});

describe('queue: producer', () => {
  let redis: TestRedis;
  let client: Redis;
  let producer: Producer;
  const keys = createKeys('thp');

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: 5000 });
  });
  after(async () => {
    await producer.close();
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    await client.flushall();
  });

  it('writes the record with every documented field, then a waiting job with the same id and empty data', async () => {
    const before = Date.now();
    const [r] = await producer.submit('0123456789abcdef', [
      task({ callback_url: 'https://h.example/cb', project_id: 'p', metadata: { m: [1] }, traceparent: 'tp' }),
    ]);
    const id = r?.task_id as string;
    expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const rec = await client.hgetall(keys.task(id));
    expect(Object.keys(rec).sort()).to.deep.equal(
      ['id', 'type', 'queue', 'tenant', 'project', 'status', 'data', 'meta', 'cb', 'opts', 'created', 'queued', 'progress', 'runs', 'lost', 'gen', 'trace'].sort(),
    );
    expect(rec).to.include({ id, tenant: '0123456789abcdef', project: 'p', status: 'queued', data: '{"x":1}', meta: '{"m":[1]}' });
    expect(rec).to.include({ cb: 'https://h.example/cb', opts: '{}', progress: '0', runs: '0', lost: '0', gen: '1', trace: 'tp' });
    expect(Number(rec.created)).to.be.within(before, Date.now());
    expect(rec.queued).to.equal(rec.created);
    expect(new Date(Number(rec.created)).toISOString()).to.equal(r?.created_at);
    expect(await client.lrange('thp:bq:debug:waiting', 0, -1)).to.deep.equal([id]);
    const job = JSON.parse((await client.hget('thp:bq:debug:jobs', id)) as string);
    expect(job.data).to.deep.equal({});
    expect(job.options.retries ?? 0).to.equal(0);
    expect(job.options.backoff).to.equal(undefined);
  });

  it('a batch: records for all, jobs per queue, ids in input order; retries, backoff and delay set per job', async () => {
    const out = await producer.submit('t', [
      task(),
      task({ task_type: 'image.x', queue: 'image', options: { retries: 3 } }),
      task({ options: { delay_s: 120 } }),
    ]);
    expect(out).to.have.length(3);
    const [a, b, c] = out.map((o) => o.task_id) as [string, string, string];
    expect(new Set([a, b, c]).size).to.equal(3);
    expect(await client.hget(keys.task(b), 'queue')).to.equal('image');
    expect(await client.lrange('thp:bq:debug:waiting', 0, -1)).to.deep.equal([a]);
    expect(await client.lrange('thp:bq:image:waiting', 0, -1)).to.deep.equal([b]);
    const jb = JSON.parse((await client.hget('thp:bq:image:jobs', b)) as string);
    expect(jb.options).to.deep.include({ retries: 3, backoff: { strategy: 'exponential', delay: 1000 } });
    const due = Number(await client.zscore('thp:bq:debug:delayed', c));
    expect(due).to.be.within(Date.now() + 115_000, Date.now() + 121_000);
    // A delayed task joins the line when its delay ends: its queue wait counts from there.
    const [queued, created] = await client.hmget(keys.task(c), 'queued', 'created');
    expect(Number(queued)).to.equal(Number(created) + 120_000);
    expect(Number(queued)).to.equal(due);
  });

  it('retry sets queued again (the queue wait of the new run counts from the retry), and keeps created', async () => {
    const [r] = await producer.submit('t', [task()]);
    const id = r?.task_id as string;
    // As a run that failed an hour ago leaves it: its job acknowledged (gone), the record failed.
    const hourAgo = String(Date.now() - 3_600_000);
    await client.multi().hdel('thp:bq:debug:jobs', id).del('thp:bq:debug:waiting').hset(keys.task(id), 'status', 'failed', 'created', hourAgo, 'queued', hourAgo).exec();
    const before = Date.now();
    expect(await producer.retry({ id, queue: 'debug', options: {} })).to.deep.equal({ gen: 2 });
    const [status, queued, created] = await client.hmget(keys.task(id), 'status', 'queued', 'created');
    expect(status).to.equal('queued');
    expect(Number(queued)).to.be.within(before, Date.now());
    expect(created).to.equal(hourAgo);
    expect(await client.lrange('thp:bq:debug:waiting', 0, -1)).to.deep.equal([id]);
  });

  it('the record exists by the time the job does', async () => {
    // Watch the waiting list from a second connection: each id that appears must already have its record.
    const watcher = redis.client();
    const seen: boolean[] = [];
    const watching = (async () => {
      for (let i = 0; i < 20; i++) {
        const popped = await watcher.brpop('thp:bq:debug:waiting', 2);
        if (!popped) break;
        seen.push((await watcher.exists(keys.task(popped[1]))) === 1);
      }
    })();
    await producer.submit('t', Array.from({ length: 10 }, () => task()));
    for (let i = 0; i < 10; i++) await producer.submit('t', [task()]);
    await watching;
    watcher.disconnect();
    expect(seen).to.have.length(20);
    expect(seen.every(Boolean)).to.equal(true);
  });

  it('submits made in one turn go to Redis in one script call, each with its own tasks, tenant and answer', async () => {
    await producer.submit('warm', [task()]); // loads the script (EVALSHA after the first EVAL)
    const calls = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec((await client.info('commandstats')) as string)?.[1] ?? 0);
    const before = await calls();
    const [a, b, c] = await Promise.all([
      producer.submit('ta', [task(), task({ queue: 'image' })]),
      producer.submit('tb', [task({ options: { delay_s: 60 } })]),
      producer.submit('ta', [task({ metadata: { k: 'c' } })]),
    ]);
    // ioredis's INFO is itself a command: count only the script calls.
    expect((await calls()) - before).to.equal(1);
    expect(a).to.have.length(2);
    expect(await client.hget(keys.task(b?.[0]?.task_id as string), 'tenant')).to.equal('tb');
    expect(await client.hget(keys.task(c?.[0]?.task_id as string), 'meta')).to.equal('{"k":"c"}');
    expect(await client.zrange('thp:tasks:t:ta', 0, -1)).to.have.members([...(a ?? []), ...(c ?? [])].map((t) => t.task_id));
    expect(await client.zrange('thp:tasks:t:tb', 0, -1)).to.deep.equal([b?.[0]?.task_id]);
    expect(await client.lrange('thp:bq:image:waiting', 0, -1)).to.deep.equal([a?.[1]?.task_id]);
    expect(await client.zcard('thp:bq:debug:delayed')).to.equal(1);
  });

  it('a submit whose idempotency claim is no longer its own queues nothing; the submits batched with it are queued', async () => {
    const claim = (key: string, token: string) => ({ key, token, ttlMs: 60_000, answer: () => ({ status: 202, body: '{}', location: '' }) });
    await client.hset('thp:idem:mine', 'state', 'pending', 'token', 'tok-1');
    await client.hset('thp:idem:taken', 'state', 'pending', 'token', 'someone-else');
    const [mine, taken, gone, plain] = await Promise.allSettled([
      producer.submit('t', [task()], claim('thp:idem:mine', 'tok-1')),
      producer.submit('t', [task(), task()], claim('thp:idem:taken', 'tok-2')),
      producer.submit('t', [task()], claim('thp:idem:expired', 'tok-3')),
      producer.submit('t', [task()]),
    ]);
    expect(mine.status).to.equal('fulfilled');
    expect(plain.status).to.equal('fulfilled');
    for (const lost of [taken, gone]) {
      expect(lost.status).to.equal('rejected');
      expect((lost as PromiseRejectedResult).reason).to.be.instanceOf(IdempotencyInFlightError);
    }
    const queued = [mine, plain].map((r) => (r as PromiseFulfilledResult<{ task_id: string }[]>).value[0]?.task_id);
    expect(await client.lrange('thp:bq:debug:waiting', 0, -1)).to.have.members(queued);
    expect(await client.keys('thp:task:*')).to.have.length(2);
    expect(await client.hget('thp:idem:mine', 'state')).to.equal('done');
    expect(await client.hgetall('thp:idem:taken')).to.deep.equal({ state: 'pending', token: 'someone-else' });
    expect(await client.exists('thp:idem:expired')).to.equal(0);
  });

  it('a submit script run again (ioredis resending it after a lost reply) leaves a task that ran since alone', async () => {
    const resending = redis.client();
    const p = createProducer({ redis: resending, keys, redisUrl: redis.url, stallIntervalMs: 5000 });
    try {
      const commands = resending as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      await p.submit('warm', [task()]); // defines th_submit on this client
      await client.flushall();
      const send = commands.th_submit!.bind(resending);
      // The first run's reply is lost; meanwhile a worker runs the task to the end; then the resend runs.
      commands.th_submit = async (...args: unknown[]) => {
        await send(...args);
        const [key] = await client.keys('thp:task:*');
        const id = (key as string).split(':').pop() as string;
        await client.hset(key as string, 'status', 'completed', 'runs', '1');
        await client.lrem('thp:bq:debug:waiting', 0, id);
        await client.hdel('thp:bq:debug:jobs', id);
        return send(...args);
      };
      const [queued] = await p.submit('t', [task()]);
      const record = await client.hgetall(keys.task(queued?.task_id as string));
      expect(record.status).to.equal('completed');
      expect(record.runs).to.equal('1');
      expect(await client.llen('thp:bq:debug:waiting')).to.equal(0);
      expect(await client.hexists('thp:bq:debug:jobs', queued?.task_id as string)).to.equal(0);
    } finally {
      await p.close();
      resending.disconnect();
    }
  });

  it('a submit that Redis refuses fails with queue_unavailable, and so does every submit batched with it', async () => {
    const p = createProducer({ redis: client, keys: createKeys('thq'), redisUrl: redis.url, stallIntervalMs: 5000 });
    await client.set('thq:tasks:t:bad', 'not a sorted set'); // the ZADD of tenant "bad" hits WRONGTYPE
    const results = await Promise.allSettled([p.submit('bad', [task()]), p.submit('good', [task()])]);
    await p.close();
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    for (const r of results) expect(((r as PromiseRejectedResult).reason as { code?: string }).code).to.equal('queue_unavailable');
  });

  it('gives up on a Redis that does not answer after saveTimeoutMs: every submit of the batch fails with queue_unavailable', async () => {
    const p = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: 5000, saveTimeoutMs: 300 });
    await p.submit('t', [task()]);
    const admin = redis.client();
    await admin.client('PAUSE', 2000, 'WRITE');
    const started = Date.now();
    const results = await Promise.allSettled([p.submit('t', [task()]), p.submit('u', [task()])]);
    const took = Date.now() - started;
    await admin.client('UNPAUSE');
    admin.disconnect();
    await p.close();
    expect(took).to.be.within(250, 1500);
    for (const r of results) expect(((r as PromiseRejectedResult).reason as { code?: string }).code).to.equal('queue_unavailable');
  });

  it('reuses one bee-queue per queue name instead of one per call', async () => {
    const clientsBefore = (await client.client('LIST')) as string;
    for (let i = 0; i < 5; i++) await producer.submit('t', [task(), task({ queue: 'image' })]);
    const clientsAfter = (await client.client('LIST')) as string;
    expect(clientsAfter.trim().split('\n').length).to.equal(clientsBefore.trim().split('\n').length);
  });

  it('taskRecordFields stores nulls as empty strings', () => {
    const f = taskRecordFields('id1', 'ten', task(), 5);
    expect(f).to.include({ project: '', cb: '', trace: '', created: '5', queued: '5' });
  });

  it('close() is idempotent and later submits fail', async () => {
    const p = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: 5000 });
    await p.submit('t', [task()]);
    await Promise.all([p.close(), p.close()]);
    await p.close();
    let err: unknown;
    try {
      await p.submit('t', [task()]);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).to.equal('producer_closed');
  });
});
