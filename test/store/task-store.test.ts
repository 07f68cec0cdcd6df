import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createOutbox } from '../../src/delivery/outbox.js';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type OutboxEntry, type TaskStore } from '../../src/store/task-store.js';
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

describe('store: task store', () => {
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

  describe('start', () => {
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

    it('requeue puts a running task back, with its last error and a fresh queued time (queue wait counts from it)', async () => {
      await client.hset(keys.task('t1'), { ...record, queued: '1700000000000' });
      await store.start('t1', 2);
      await client.rpush('tst:bq:debug:active', 't1');
      expect(await store.requeue('t1', '{"message":"boom"}', 'debug')).to.equal(true);
      const h = await client.hgetall(keys.task('t1'));
      expect(h).to.include({ status: 'queued', last_error: '{"message":"boom"}' });
      expect(Number(h.queued)).to.be.closeTo(Date.now(), 5000);
      expect(await client.lrange('tst:bq:debug:waiting', 0, -1)).to.deep.equal(['t1']);
      expect(await store.requeue('t1', null, undefined), 'no longer running').to.equal(false);
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

    it('a re-run after a lost worker counts the run and the loss', async () => {
      await client.hset(keys.task('r'), { ...record, id: 'r', status: 'running', runs: '1' });
      const v = await store.start('r', 2);
      expect(v.kind).to.equal('run');
      expect((v as { fields: Record<string, string> }).fields).to.include({ runs: '2', lost: '1', status: 'running' });
      expect(await client.hgetall(keys.task('r'))).to.include({ runs: '2', lost: '1', status: 'running' });
    });
  });

  describe('finish and outbox record', () => {
    const callback = (id: string): OutboxEntry => ({
      deliveryId: `${id}.1`,
      url: 'https://x.example/cb',
      body: '{"event":"task.completed"}',
      msgId: `msg_${id}_1`,
      event: 'task.completed',
      secret: 'default',
      sub: '',
      claim: true,
      trace: '',
    });

    async function running(id: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
      await client.hset(keys.task(id), { ...record, id, tenant: 'abcd', gen: '1', ...extra });
      const v = await store.start(id, 2);
      return (v as { fields: Record<string, string> }).fields;
    }

    it('writes the outcome, the callback delivery and clears a cancel request', async () => {
      const fields = await running('f1');
      await client.hset(keys.task('f1'), 'cancel', '1');
      const w = await store.finish(fields, { status: 'completed', result: { ok: true } }, [callback('f1')], [], Date.now() + 30_000);
      expect(w).to.deep.equal({ kind: 'ok', created: ['f1.1'] });
      const after = await client.hgetall(keys.task('f1'));
      expect(after).to.include({ status: 'completed', result: '{"ok":true}', progress: '100', dlv: 'f1.1' });
      expect(Number(after.finished)).to.be.closeTo(Date.now(), 5000);
      expect(after).to.not.have.property('cancel');
      expect(after).to.not.have.property('error');
      expect(await client.hget(keys.delivery('f1.1'), 'state')).to.equal('delivering');
      // A second outcome is refused and changes nothing.
      expect(await store.finish(fields, { status: 'failed', error: { message: 'x', error_type: 'E' } }, [], [], 0)).to.deep.equal({ kind: 'done' });
      expect(await client.hget(keys.task('f1'), 'status')).to.equal('completed');
    });

    it('stores the result and the delivery body exactly, every kind of character intact', async () => {
      const fields = await running('f4');
      const result = { s: 'é 🎬 "quoted" back\\slash /path \u2028 \u0000 \t', big: '12345678901234567890', nested: { a: [1, 'x'] } };
      const body = JSON.stringify({ event: 'task.completed', result });
      const entry = { ...callback('f4'), body };
      await store.finish(fields, { status: 'completed', result }, [entry], [], Date.now() + 30_000);
      expect(await client.hget(keys.task('f4'), 'result')).to.equal(JSON.stringify(result));
      expect(await client.hget(keys.delivery('f4.1'), 'body')).to.equal(body);
      expect(JSON.parse((await client.hget(keys.delivery('f4.1'), 'body')) ?? '')).to.deep.equal({ event: 'task.completed', result });
    });

    it('a failure keeps progress and writes the error; no callback means no dlv field', async () => {
      const fields = await running('f2', { progress: '40' });
      const error = { message: 'boom', error_type: 'RuntimeError' };
      expect(await store.finish(fields, { status: 'failed', error }, [], [], 0)).to.deep.equal({ kind: 'ok', created: [] });
      const after = await client.hgetall(keys.task('f2'));
      expect(after).to.include({ status: 'failed', progress: '40', error: JSON.stringify(error) });
      expect(after).to.not.have.property('result');
      expect(after).to.not.have.property('dlv');
    });

    it('records an attempt on an existing delivery, and nothing on a missing one', async () => {
      const fields = await running('f3');
      await store.finish(fields, { status: 'completed', result: {} }, [callback('f3')], [], Date.now() + 30_000);
      const outbox = createOutbox(client, keys, { disableAfterMs: 60_000, progressIntervalMs: 1000 });
      const attempt = { n: 1, at: new Date().toISOString(), status_code: 204, duration_ms: 2, error: null, outcome: 'delivered' as const };
      expect(await outbox.record('f3.1', attempt, null, 0)).to.equal('delivered');
      expect(await client.hgetall(keys.delivery('f3.1'))).to.include({ state: 'delivered', n: '1' });
      expect(await client.zscore(keys.due, 'f3.1')).to.equal(null);
      expect(await outbox.record('gone.1', attempt, null, 0)).to.equal('missing');
      expect(await client.exists(keys.delivery('gone.1'), keys.attempts('gone.1'))).to.equal(0);
    });
  });
});
