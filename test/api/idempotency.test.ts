/**
 * Idempotency-Key on the submit routes, through a real HTTP server and a real
 * Redis. The harness is given a gated callback check (so a test can hold a
 * request in flight) and a producer that can be made to fail.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { request } from 'undici';
import { requestFingerprint } from '../../src/api/idempotency.js';
import { DependencyError } from '../../src/errors.js';
import { KEY_A, KEY_B, call, expectProblem, fields, sha256hex, startApi, type Harness } from './harness.js';

describe('api: Idempotency-Key', () => {
  let h: Harness;
  /** While set, callback URL checks wait for it: the request stays in flight. */
  let gate: Promise<void> | null = null;
  /** Holds only the next callback URL check (later requests pass), until it resolves. */
  let holdNext: Promise<void> | null = null;
  /** Submits that fail with a 503 before anything is written. */
  let failNextSubmits = 0;
  /** Submits whose tasks are queued but whose reply is lost (as a timeout, or an API killed before it answers). */
  let loseNextReplies = 0;

  before(async () => {
    h = await startApi(
      {},
      {
        wrapProducer: (producer) => ({
          submit: async (tenant, tasks, idempotency) => {
            if (failNextSubmits > 0) {
              failNextSubmits -= 1;
              throw new DependencyError('queue_unavailable', 'injected');
            }
            const queued = await producer.submit(tenant, tasks, idempotency);
            if (loseNextReplies > 0) {
              loseNextReplies -= 1;
              throw new DependencyError('queue_unavailable', 'injected: reply lost after the tasks were queued');
            }
            return queued;
          },
          retry: (task) => producer.retry(task),
          removeJob: (queue, id) => producer.removeJob(queue, id),
          close: () => producer.close(),
        }),
        checkCallbackUrl: async () => {
          const once = holdNext;
          holdNext = null;
          if (once) await once;
          if (gate) await gate;
        },
      },
    );
  });
  after(() => h.close());
  beforeEach(async () => {
    gate = null;
    holdNext = null;
    failNextSubmits = 0;
    loseNextReplies = 0;
    await h.client.flushall();
  });

  const taskIds = async (): Promise<string[]> => (await h.client.keys(`${h.keys.prefix}:task:*`)).map((k) => k.split(':').pop() as string);
  const idemKeys = () => h.client.keys(`${h.keys.prefix}:idem:*`);
  const submit = (key: string | null, body: unknown, path = '/api/v1/tasks', apiKey = KEY_A) =>
    call(h, 'POST', path, { key: apiKey, body, headers: key === null ? {} : { 'idempotency-key': key } });

  it('same key + same body → the first answer replayed (status, body, Location) with Idempotent-Replayed; one task', async () => {
    const body = { task_type: 'debug.echo', task_data: { a: 1, b: [1, 2] }, metadata: { x: 'y' } };
    const first = await submit('order-42', body);
    expect(first.status, first.text).to.equal(202);
    expect(first.headers['idempotent-replayed']).to.equal(undefined);

    // Same document with keys in another order and other whitespace: the same request.
    const again = await submit('order-42', '{ "metadata": {"x":"y"}, "task_data": {"b":[1,2],"a":1}, "task_type":"debug.echo" }');
    expect(again.status).to.equal(202);
    expect(again.headers['idempotent-replayed']).to.equal('true');
    expect(again.headers.location).to.equal(first.headers.location);
    expect(String(again.headers['content-type'])).to.match(/^application\/json/);
    expect(again.json).to.deep.equal(first.json);
    // The /submit alias is the same endpoint.
    const alias = await submit('order-42', body, '/api/v1/tasks/submit');
    expect(alias.json).to.deep.equal(first.json);
    expect(alias.headers['idempotent-replayed']).to.equal('true');

    expect(await taskIds()).to.deep.equal([first.json.task_id]);
    expect(await h.client.llen(`${h.keys.bq}:debug:waiting`)).to.equal(1);

    // Stored under P:idem:{tenant}:{sha256(key)}, kept 24 h.
    const [stored] = await idemKeys();
    const tenant = await h.client.hget(h.keys.task(first.json.task_id as string), 'tenant');
    expect(stored).to.equal(`tht:idem:${tenant}:${sha256hex('order-42')}`);
    expect(await h.client.hget(stored as string, 'state')).to.equal('done');
    const ttl = await h.client.pttl(stored as string);
    expect(ttl).to.be.within(24 * 3600_000 - 60_000, 24 * 3600_000);
  });

  it('without the header every submit is a new task', async () => {
    await submit(null, { task_type: 'debug.echo' });
    await submit(null, { task_type: 'debug.echo' });
    expect(await taskIds()).to.have.length(2);
    expect(await idemKeys()).to.deep.equal([]);
  });

  it('same key + different body → 422 idempotency_key_reused, nothing queued', async () => {
    expect((await submit('k1', { task_type: 'debug.echo', task_data: { n: 1 } })).status).to.equal(202);
    const r = await submit('k1', { task_type: 'debug.echo', task_data: { n: 2 } });
    expect(expectProblem(r, 422).code).to.equal('idempotency_key_reused');
    // The batch endpoint is another scope: the same key there is a different request.
    const b = await submit('k1', { tasks: [{ task_type: 'debug.echo', task_data: { n: 1 } }] }, '/api/v1/tasks/batch');
    expect(expectProblem(b, 422).code).to.equal('idempotency_key_reused');
    expect(await taskIds()).to.have.length(1);
  });

  it('same key while the first request is in flight → 409 idempotency_in_flight; the first then completes', async () => {
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const body = { task_type: 'debug.echo', callback_url: 'http://127.0.0.1:9/hook' };
    const firstP = submit('slow', body);
    // Wait until the first request holds the claim.
    for (let i = 0; i < 200 && (await idemKeys()).length === 0; i += 1) await sleep(10);
    const [claim] = await idemKeys();
    expect(await h.client.hget(claim as string, 'state')).to.equal('pending');
    // A crashed process cannot block the key for more than the lock TTL.
    expect(await h.client.pttl(claim as string)).to.be.within(1, 15_000);

    const second = await submit('slow', body);
    expect(expectProblem(second, 409).code).to.equal('idempotency_in_flight');
    expect(second.headers['retry-after']).to.equal('1');
    open();
    const first = await firstP;
    expect(first.status, first.text).to.equal(202);
    const third = await submit('slow', body);
    expect(third.json.task_id).to.equal(first.json.task_id);
    expect(await taskIds()).to.have.length(1);
  });

  /** Holds the next request after its claim (in its callback URL check) and returns the claim's key and a release. */
  const holdAfterClaim = async (send: () => Promise<Awaited<ReturnType<typeof submit>>>) => {
    let open!: () => void;
    holdNext = new Promise<void>((resolve) => {
      open = resolve;
    });
    const pending = send();
    for (let i = 0; i < 200 && (await idemKeys()).length === 0; i += 1) await sleep(10);
    const [claim] = await idemKeys();
    expect(claim, 'the held request claimed its key').to.be.a('string');
    return { claim: claim as string, pending, open };
  };

  it('a request that outlived its lock queues nothing when another took the key over: 409, one task', async () => {
    const body = { task_type: 'debug.echo', callback_url: 'http://127.0.0.1:9/hook' };
    const first = await holdAfterClaim(() => submit('overtaken', body));
    // The lock runs out while the first request is held...
    await h.client.del(first.claim);
    // ...and the client's retry claims the key and queues the task.
    const retry = await submit('overtaken', body);
    expect(retry.status, retry.text).to.equal(202);
    first.open();
    const late = await first.pending;
    expect(expectProblem(late, 409).code).to.equal('idempotency_in_flight');
    expect(late.headers['retry-after']).to.equal('1');
    expect(await taskIds()).to.deep.equal([retry.json.task_id]);
    // The key still replays the retry's answer.
    const again = await submit('overtaken', body);
    expect(again.json.task_id).to.equal(retry.json.task_id);
    expect(again.headers['idempotent-replayed']).to.equal('true');
  });

  it('a batch whose lock ran out queues none of its tasks; the retry queues them once', async () => {
    const batch = { callback_url: 'http://127.0.0.1:9/hook', tasks: [{ task_type: 'debug.echo' }, { task_type: 'debug.echo' }] };
    const first = await holdAfterClaim(() => submit('expired', batch, '/api/v1/tasks/batch'));
    await h.client.del(first.claim);
    first.open();
    expect(expectProblem(await first.pending, 409).code).to.equal('idempotency_in_flight');
    expect(await taskIds()).to.have.length(0);
    const retry = await submit('expired', batch, '/api/v1/tasks/batch');
    expect(retry.status, retry.text).to.equal(202);
    expect(await taskIds()).to.have.length(2);
  });

  it('is scoped per API key: another key with the same Idempotency-Key gets its own task', async () => {
    const body = { task_type: 'debug.echo' };
    const a = await submit('shared', body, '/api/v1/tasks', KEY_A);
    const b = await submit('shared', body, '/api/v1/tasks', KEY_B);
    expect(a.status).to.equal(202);
    expect(b.status).to.equal(202);
    expect(b.headers['idempotent-replayed']).to.equal(undefined);
    expect(b.json.task_id).to.not.equal(a.json.task_id);
    expect(await taskIds()).to.have.length(2);
    expect(await idemKeys()).to.have.length(2);
  });

  it('a failed (5xx) first attempt is not cached: the retry with the same key creates the task', async () => {
    failNextSubmits = 1;
    const body = { task_type: 'debug.echo' };
    expect(expectProblem(await submit('retry-me', body), 503).code).to.equal('queue_unavailable');
    expect(await idemKeys()).to.deep.equal([]);
    const r = await submit('retry-me', body);
    expect(r.status, r.text).to.equal(202);
    expect(r.headers['idempotent-replayed']).to.equal(undefined);
    expect(await taskIds()).to.deep.equal([r.json.task_id]);
  });

  it('a submit whose reply was lost after its tasks were queued is replayed on retry, not queued twice', async () => {
    const body = { task_type: 'debug.echo', task_data: { n: 7 } };
    loseNextReplies = 1;
    expect(expectProblem(await submit('lost-reply', body), 503).code).to.equal('queue_unavailable');
    const [queuedId] = await taskIds();
    expect(queuedId, 'the first attempt queued its task').to.be.a('string');
    const retry = await submit('lost-reply', body);
    expect(retry.status, retry.text).to.equal(202);
    expect(retry.headers['idempotent-replayed']).to.equal('true');
    expect(retry.json.task_id).to.equal(queuedId);
    expect(retry.headers.location).to.equal(`/api/v1/tasks/${queuedId}`);
    expect(await taskIds()).to.deep.equal([queuedId]);

    // The same for a batch: its answer lists the ids queued by the lost attempt.
    loseNextReplies = 1;
    const batch = { tasks: [{ task_type: 'debug.echo' }, { task_type: 'debug.echo', task_data: { n: 2 } }] };
    expect((await submit('lost-batch', batch, '/api/v1/tasks/batch')).status).to.equal(503);
    const again = await submit('lost-batch', batch, '/api/v1/tasks/batch');
    expect(again.status, again.text).to.equal(202);
    expect(again.headers['idempotent-replayed']).to.equal('true');
    const ids = (again.json.tasks as { task_id: string }[]).map((t) => t.task_id);
    expect((await taskIds()).sort()).to.deep.equal([queuedId, ...ids].sort());
  });

  it('a rejected (4xx) first attempt is not cached either: the client may fix the body and reuse the key', async () => {
    const bad = await submit('fix-me', { task_type: 'debug.sleep', task_data: { ms: 'x' } });
    expectProblem(bad, 400);
    const ok = await submit('fix-me', { task_type: 'debug.sleep', task_data: { ms: 1 } });
    expect(ok.status, ok.text).to.equal(202);
  });

  it('replays a batch with the same task ids in the same order', async () => {
    const body = { tasks: [{ task_type: 'debug.echo' }, { task_type: 'debug.sleep', task_data: { ms: 1 } }] };
    const first = await submit('batch-1', body, '/api/v1/tasks/batch');
    expect(first.status, first.text).to.equal(202);
    const again = await submit('batch-1', body, '/api/v1/tasks/batch');
    expect(again.headers['idempotent-replayed']).to.equal('true');
    expect(again.json).to.deep.equal(first.json);
    expect(await taskIds()).to.have.length(2);
  });

  it('a malformed key → 400 naming Idempotency-Key', async () => {
    const body = { task_type: 'debug.echo' };
    for (const key of ['x'.repeat(256), 'caf\u00e9']) {
      const p = expectProblem(await submit(key, body), 400);
      expect(fields(p)).to.deep.equal(['Idempotency-Key']);
    }
    // Given twice.
    const res = await request(`${h.base}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'x-api-key': KEY_A, 'content-type': 'application/json', 'idempotency-key': ['a', 'b'] },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    expect(res.statusCode).to.equal(400);
    expect(JSON.parse(text).errors[0].field).to.equal('Idempotency-Key');
    expect(await taskIds()).to.deep.equal([]);
    // 255 printable characters are fine.
    expect((await submit('~'.repeat(255), body)).status).to.equal(202);
  });

  it('requestFingerprint: canonical over key order, sensitive to values and scope, safe on deep input', () => {
    expect(requestFingerprint('task', { a: 1, b: { c: [1, 2] } })).to.equal(requestFingerprint('task', { b: { c: [1, 2] }, a: 1 }));
    expect(requestFingerprint('task', { a: 1 })).to.not.equal(requestFingerprint('task', { a: '1' }));
    expect(requestFingerprint('task', [1, [2]])).to.not.equal(requestFingerprint('task', [[1], 2]));
    expect(requestFingerprint('task', { a: 1 })).to.not.equal(requestFingerprint('batch', { a: 1 }));
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(requestFingerprint('task', deep)).to.match(/^[0-9a-f]{64}$/);
  });
});
