import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createOutbox, type AttemptRecord } from '../../src/delivery/outbox.js';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type OutboxEntry, type TakenJob, type TaskStore } from '../../src/store/task-store.js';
import { taskRecordFields } from '../../src/queue/producer.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { storedAttempts } from '../helpers/attempts.js';

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

  const bq = (k: string): string => `tst:bq:debug:${k}`;
  /** A queued task and its bee-queue job, as the producer leaves them (LPUSH: the oldest is on the right). */
  async function queued(id: string, extra: Record<string, string> = {}, job = '{"data":{},"options":{"timestamp":1,"stacktraces":[]},"status":"created"}'): Promise<void> {
    await client.multi().hset(keys.task(id), { ...record, id, ...extra }).hset(bq('jobs'), id, job).lpush(bq('waiting'), id).exec();
  }
  const fieldsOf = (t: TakenJob | undefined): Record<string, string> => (t?.verdict as { fields: Record<string, string> }).fields;

  describe('take', () => {
    it('moves a waiting job to active, marks its task running and returns its record exactly, every string intact', async () => {
      await queued('t1');
      await client.sadd(bq('stalling'), 't1');
      const [t, ...rest] = await store.take('debug', 5, null, 2);
      expect(rest).to.deep.equal([]);
      expect(t?.id).to.equal('t1');
      expect(t?.verdict.kind).to.equal('run');
      const fields = fieldsOf(t);
      expect(fields).to.deep.equal({ ...record, status: 'running', runs: '1', claim: '1', started: fields.started });
      expect(Number(fields.started)).to.be.closeTo(Date.now(), 5000);
      expect(JSON.parse(fields.data ?? '')).to.deep.equal(JSON.parse(record.data ?? ''));
      // What the worker gets is what Redis now holds.
      expect(fields).to.deep.equal(await client.hgetall(keys.task('t1')));
      expect(JSON.parse(t?.job ?? '')).to.deep.include({ status: 'created' });
      expect(await client.lrange(bq('active'), 0, -1)).to.deep.equal(['t1']);
      expect(await client.llen(bq('waiting'))).to.equal(0);
      expect(await client.sismember(bq('stalling'), 't1'), 'out of the stall check').to.equal(0);
    });

    it('takes at most `max` jobs, oldest first, after the one the caller moved itself', async () => {
      for (const id of ['a', 'b', 'c', 'd']) await queued(id);
      // As the consumer's blocking wait does: the oldest is moved by BRPOPLPUSH.
      await client.rpoplpush(bq('waiting'), bq('active'));
      const taken = await store.take('debug', 2, 'a', 2);
      expect(taken.map((t) => [t.id, t.verdict.kind])).to.deep.equal([['a', 'run'], ['b', 'run'], ['c', 'run']]);
      expect(await client.lrange(bq('waiting'), 0, -1)).to.deep.equal(['d']);
      expect(await store.take('debug', 5, null, 2)).to.have.length(1);
      expect(await store.take('debug', 5, null, 2)).to.deep.equal([]);
    });

    it('missing and done verdicts acknowledge the job at once; cancel and lost ones are left to the worker', async () => {
      await client.multi().hset(bq('jobs'), 'nope', '{}').lpush(bq('waiting'), 'nope').exec();
      await queued('d', { status: 'completed' });
      await queued('c', { cancel: '1' });
      await queued('l', { status: 'running', lost: '2' });
      const taken = await store.take('debug', 10, null, 2);
      expect(taken.map((t) => t.verdict.kind)).to.deep.equal(['missing', 'done', 'cancel', 'lost']);
      expect(taken[1]?.verdict).to.deep.equal({ kind: 'done', status: 'completed' });
      expect(fieldsOf(taken[2])).to.include({ id: 'c', cancel: '1', status: 'queued' });
      expect(fieldsOf(taken[3])).to.include({ id: 'l', lost: '3' });
      expect(fieldsOf(taken[3])).to.deep.equal(await client.hgetall(keys.task('l')));
      expect(await client.lrange(bq('active'), 0, -1)).to.have.members(['c', 'l']);
      expect(await client.hkeys(bq('jobs'))).to.have.members(['c', 'l']);
    });

    it('a re-run after a lost worker counts the run and the loss', async () => {
      await queued('r', { status: 'running', runs: '1' });
      const [t] = await store.take('debug', 1, null, 2);
      expect(t?.verdict.kind).to.equal('run');
      expect(fieldsOf(t)).to.include({ runs: '2', lost: '1', status: 'running' });
      expect(await client.hgetall(keys.task('r'))).to.include({ runs: '2', lost: '1', status: 'running' });
    });
  });

  describe('requeue, pause and give back', () => {
    const claimOf = (t: TakenJob | undefined): string => fieldsOf(t).claim ?? '';

    it('a hand-back puts the job at the front of the line and the task back to queued, with a fresh queued time', async () => {
      await queued('t1', { queued: '1700000000000' });
      const [t] = await store.take('debug', 1, null, 2);
      await queued('new');
      expect(await store.requeue('t1', 'debug', claimOf(t), null)).to.equal(true);
      const h = await client.hgetall(keys.task('t1'));
      expect(h).to.include({ status: 'queued' });
      expect(h).to.not.have.property('last_error');
      expect(Number(h.queued)).to.be.closeTo(Date.now(), 5000);
      // Next out (rightmost), ahead of a job queued before it was handed back.
      expect(await client.lrange(bq('waiting'), 0, -1)).to.deep.equal(['new', 't1']);
      expect(await client.llen(bq('active'))).to.equal(0);
      expect(await store.requeue('t1', 'debug', claimOf(t), null), 'no longer running').to.equal(false);
    });

    it('a retry rewrites the job and delays it, and keeps the error on the record', async () => {
      await queued('t2');
      const [t] = await store.take('debug', 1, null, 2);
      await client.sadd(bq('stalling'), 't2');
      const due = Date.now() + 60_000;
      expect(await store.requeue('t2', 'debug', claimOf(t), '{"message":"boom"}', { data: '{"status":"retrying"}', at: due })).to.equal(true);
      expect(await client.hgetall(keys.task('t2'))).to.include({ status: 'queued', last_error: '{"message":"boom"}' });
      expect(await client.hget(bq('jobs'), 't2')).to.equal('{"status":"retrying"}');
      expect(Number(await client.zscore(bq('delayed'), 't2'))).to.equal(due);
      expect(await client.llen(bq('active'))).to.equal(0);
      expect(await client.sismember(bq('stalling'), 't2')).to.equal(0);
      // Due now: straight back to the end of the line.
      await client.multi().zrem(bq('delayed'), 't2').lpush(bq('waiting'), 't2').exec();
      const [again] = await store.take('debug', 1, null, 2);
      await store.requeue('t2', 'debug', claimOf(again), null, { data: '{}', at: Date.now() - 1 });
      expect(await client.lrange(bq('waiting'), 0, -1)).to.deep.equal(['t2']);
    });

    it('a pause moves only a job still held, and leaves the record running', async () => {
      await queued('p');
      const [t] = await store.take('debug', 1, null, 2);
      expect(await store.pauseJob('p', 'debug', claimOf(t), { data: '{"options":{"faults":1}}', at: Date.now() + 1000 })).to.equal(true);
      expect(await client.hget(keys.task('p'), 'status')).to.equal('running');
      expect(await client.zscore(bq('delayed'), 'p')).to.not.equal(null);
      expect(await store.pauseJob('p', 'debug', claimOf(t), { data: '{}', at: Date.now() + 1000 }), 'not held any more').to.equal(false);
      expect(await client.hget(bq('jobs'), 'p')).to.equal('{"options":{"faults":1}}');
    });

    it('a stale call (its run is over: another worker took the job since) changes nothing', async () => {
      await queued('s');
      const [first] = await store.take('debug', 1, null, 2);
      // The stall check put the job back, and another worker took it: run 2.
      await client.multi().lrem(bq('active'), 0, 's').lpush(bq('waiting'), 's').exec();
      const [second] = await store.take('debug', 1, null, 2);
      expect(claimOf(second)).to.equal('2');
      expect(fieldsOf(second)).to.include({ runs: '2', lost: '1' });
      expect(await store.requeue('s', 'debug', claimOf(first), null), 'hand-back').to.equal(false);
      expect(await store.requeue('s', 'debug', claimOf(first), '{}', { data: '{}', at: Date.now() }), 'retry').to.equal(false);
      expect(await store.pauseJob('s', 'debug', claimOf(first), { data: '{}', at: Date.now() + 1000 }), 'pause').to.equal(false);
      expect(await client.hget(keys.task('s'), 'status')).to.equal('running');
      expect(await client.lrange(bq('active'), 0, -1), "the second run's job is left alone").to.deep.equal(['s']);
    });

    it('a worker whose job a lost verdict took over (it had stalled) cannot move it either', async () => {
      await queued('l2');
      const [first] = await store.take('debug', 1, null, 0);
      await client.multi().lrem(bq('active'), 0, 'l2').lpush(bq('waiting'), 'l2').exec();
      const [second] = await store.take('debug', 1, null, 0); // TASK_MAX_LOST 0: this take fails it as worker_lost
      expect(second?.verdict.kind).to.equal('lost');
      expect(fieldsOf(second)).to.include({ runs: '1', claim: '2' });
      expect(await store.requeue('l2', 'debug', claimOf(first), null), 'hand-back of the stalled run').to.equal(false);
      expect(await client.hget(keys.task('l2'), 'status')).to.equal('running');
      expect(await client.lrange(bq('active'), 0, -1)).to.deep.equal(['l2']);
    });

    it('a give-back moves a job that never started, but never one whose task is running', async () => {
      await queued('g');
      await client.rpoplpush(bq('waiting'), bq('active')); // moved by a blocking wait, not started
      expect(await store.giveBack('g', 'debug')).to.equal(true);
      expect(await client.lrange(bq('waiting'), 0, -1)).to.deep.equal(['g']);
      expect(await client.hget(keys.task('g'), 'status')).to.equal('queued');
      await store.take('debug', 1, null, 2);
      expect(await store.giveBack('g', 'debug'), 'running: someone runs it').to.equal(false);
      expect(await client.lrange(bq('active'), 0, -1)).to.deep.equal(['g']);
    });

    it('take skips a moved job that is no longer active (the stall check put it back meanwhile)', async () => {
      await queued('m');
      expect(await store.take('debug', 0, 'm', 2)).to.deep.equal([]);
      expect(await client.hget(keys.task('m'), 'status')).to.equal('queued');
      const [t] = await store.take('debug', 1, null, 2);
      expect(fieldsOf(t)).to.include({ runs: '1', lost: '0' });
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
      await queued(id, { tenant: 'abcd', gen: '1', ...extra });
      return fieldsOf((await store.take('debug', 1, null, 2))[0]);
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
      // The job is acknowledged in the same step, as bee-queue's own acknowledgement would.
      expect(await client.llen(bq('active'))).to.equal(0);
      expect(await client.hexists(bq('jobs'), 'f1')).to.equal(0);
      // A second outcome is refused and changes nothing.
      expect(await store.finish(fields, { status: 'failed', error: { message: 'x', error_type: 'E' } }, [], [], 0)).to.deep.equal({ kind: 'done' });
      expect(await client.hget(keys.task('f1'), 'status')).to.equal('completed');
    });

    it('a stale outcome (the task runs a newer generation) leaves the newer run\'s job alone', async () => {
      const fields = await running('st');
      // The stall check took the job back; it ran elsewhere and failed; an API retry (gen 2) is running now.
      await client.multi().hset(keys.task('st'), 'gen', '2', 'status', 'running').exec();
      expect(await store.finish(fields, { status: 'completed', result: {} }, [], [], 0)).to.deep.equal({ kind: 'stale' });
      expect(await client.lrange(bq('active'), 0, -1)).to.deep.equal(['st']);
      expect(await client.hexists(bq('jobs'), 'st')).to.equal(1);
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

    /** Script runs so far (EVAL, when a script is new to this server, and EVALSHA). */
    const scriptCalls = async (): Promise<number> => {
      const info = (await client.info('commandstats')) as string;
      return ['eval', 'evalsha'].reduce((sum, cmd) => sum + Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0), 0);
    };

    it('writes the outcomes of one turn in one script call, each with its own answer, and sums the per-minute counters', async () => {
      const [a, b, c] = await Promise.all([running('b1'), running('b2'), running('b3', { gen: '2' })]);
      await store.finish(b as Record<string, string>, { status: 'failed', error: { message: 'x', error_type: 'E' } }, [], [], 0); // b2 is done already
      const before = await scriptCalls();
      const results = await Promise.all([
        store.finish(a as Record<string, string>, { status: 'completed', result: {} }, [callback('b1')], [], Date.now() + 30_000),
        store.finish(b as Record<string, string>, { status: 'completed', result: {} }, [callback('b2')], [], Date.now() + 30_000),
        store.finish({ ...(c as Record<string, string>), gen: '1' }, { status: 'completed', result: {} }, [], [], 0),
        store.finish({ ...(a as Record<string, string>), id: 'nobody' }, { status: 'completed', result: {} }, [], [], 0),
      ]);
      expect((await scriptCalls()) - before).to.equal(1);
      expect(results).to.deep.equal([{ kind: 'ok', created: ['b1.1'] }, { kind: 'done' }, { kind: 'stale' }, { kind: 'missing' }]);
      expect(await client.hget(keys.task('b2'), 'status')).to.equal('failed');
      expect(await client.exists(keys.delivery('b2.1'))).to.equal(0);
      // The runs whose outcome exists are over (their jobs acknowledged); the stale one's job is the newer run's.
      expect(await client.lrange(bq('active'), 0, -1)).to.deep.equal(['b3']);
      const [stats] = await client.keys('tst:stats:*');
      expect(await client.hgetall(stats as string)).to.include({ 'debug:completed': '1', 'debug:failed': '1', 'type:debug.echo:n': '2' });
    });

    it('records the attempts of one turn in one script call, each fenced by its own lease', async () => {
      for (const id of ['r1', 'r2', 'r3']) await store.finish(await running(id), { status: 'completed', result: {} }, [callback(id)], [], Date.now() + 30_000);
      const outbox = createOutbox(client, keys, { disableAfterMs: 60_000, progressIntervalMs: 1000 });
      const attempt = (outcome: 'delivered' | 'retry'): AttemptRecord => ({ n: 1, at: new Date().toISOString(), status_code: outcome === 'delivered' ? 204 : 500, duration_ms: 2, error: null, outcome });
      const before = await scriptCalls();
      const next = Date.now() + 1000;
      const states = await Promise.all([
        outbox.record('r1.1', attempt('delivered'), null, 0),
        outbox.record('r2.1', attempt('retry'), next, 0),
        outbox.record('r3.1', attempt('delivered'), null, 7), // a claim that is not current
      ]);
      expect((await scriptCalls()) - before).to.equal(1);
      expect(states).to.deep.equal(['delivered', 'pending', 'stale']);
      expect(Number(await client.zscore(keys.due, 'r2.1'))).to.equal(next);
      expect(await client.hget(keys.delivery('r3.1'), 'state')).to.equal('delivering');
      expect((await storedAttempts(client, keys, 'r3.1')).length, 'a stale attempt is still logged').to.equal(1);
      const [stats] = await client.keys('tst:stats:*');
      expect(await client.hgetall(stats as string)).to.include({ 'cb:delivered': '1', 'cb:retry': '1' });
    });

    it('records an attempt on an existing delivery, and nothing on a missing one', async () => {
      const fields = await running('f3');
      await store.finish(fields, { status: 'completed', result: {} }, [callback('f3')], [], Date.now() + 30_000);
      const outbox = createOutbox(client, keys, { disableAfterMs: 60_000, progressIntervalMs: 1000 });
      const attempt = { n: 1, at: new Date().toISOString(), status_code: 204, duration_ms: 2, error: null, outcome: 'delivered' as const };
      expect(await outbox.record('f3.1', attempt, null, 0)).to.equal('delivered');
      const hash = await client.hgetall(keys.delivery('f3.1'));
      expect(hash).to.include({ state: 'delivered', n: '1', att: '1' });
      // The attempt record is a field of the delivery's hash: no key of its own.
      expect(JSON.parse(hash['att:1'] ?? 'null')).to.deep.equal(attempt);
      expect(await client.exists(keys.attempts('f3.1'))).to.equal(0);
      expect(await client.zscore(keys.due, 'f3.1')).to.equal(null);
      expect(await outbox.record('gone.1', attempt, null, 0)).to.equal('missing');
      expect(await client.exists(keys.delivery('gone.1'), keys.attempts('gone.1'))).to.equal(0);
    });
  });
});
