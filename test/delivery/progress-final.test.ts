/**
 * No `task.progress` event follows its task's terminal event: a progress
 * attempt in flight when the task finishes is not retried, and a progress
 * delivery left due after the finish (its holder died mid-attempt) is
 * dropped when claimed, not sent. Real Redis, the real task-store, outbox and
 * dispatcher, a real loopback receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { Agent } from 'undici';
import { createOutbox, type Outbox } from '../../src/delivery/outbox.js';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type TaskStore } from '../../src/store/task-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { storedAttempts } from '../helpers/attempts.js';
import { testDispatcher } from '../helpers/dispatcher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delivery: progress after the terminal event', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: TaskStore;
  let outbox: Outbox;
  const keys = createKeys('prg');
  const agent = new Agent();
  let server: http.Server;
  let url: string;
  /** Bodies of the progress requests the receiver got. */
  let got: string[] = [];

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    store = createTaskStore(client, keys);
    outbox = createOutbox(client, keys, { disableAfterMs: 1e9, progressIntervalMs: 50 });
    // Every progress request gets a 503 after 300 ms: time for the task to finish meanwhile.
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push(Buffer.concat(chunks).toString('utf8'));
        setTimeout(() => res.writeHead(503).end(), 300);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    got = [];
    await redis.flush();
  });

  const running = async (id: string) => {
    const fields = { id, tenant: 'x', gen: '1', status: 'running', type: 'debug.echo', queue: 'debug', started: String(Date.now()) };
    await client.hset(keys.task(id), fields);
    return fields;
  };
  const progress = (fields: Record<string, string>, pid: string) =>
    store.progressEvent(fields, { deliveryId: pid, url, body: '{"progress":40}', msgId: `msg_${pid}`, sub: 'wh_1' }, 50);
  const finish = (fields: Record<string, string>, pid: string) =>
    store.finish(fields, { status: 'completed', result: {} }, [], [pid], Date.now() + 30_000);

  it('an attempt in flight when the task finishes is not retried: a retryable answer drops it', async () => {
    const fields = await running('t1');
    const pid = 't1.progress.wh_1';
    expect(await progress(fields, pid)).to.equal(true);
    const dispatcher = testDispatcher(outbox, agent, {
      // A 503 is retried after 100 ms, up to 5 times.
      policy: { maxRetries: 5, backoffMs: 100, retryAfterMaxMs: 1000, retryStatuses: [] },
      timeoutMs: 2000,
      pollMs: 20,
    });
    dispatcher.start();
    try {
      for (let t = 0; got.length === 0 && t < 3000; t += 10) await sleep(10);
      expect(got).to.have.length(1);
      // The task finishes while the receiver has the progress request.
      expect((await finish(fields, pid)).kind).to.equal('ok');
      expect(await client.hmget(keys.delivery(pid), 'state', 'final')).to.deep.equal(['delivering', '1']);
      // Its 503 arrives; the retry would have been due 100 ms later.
      await sleep(1000);
    } finally {
      await dispatcher.stop(1000);
    }
    expect(got, 'no progress request after the finish').to.have.length(1);
    expect(await client.hmget(keys.delivery(pid), 'state', 'n')).to.deep.equal(['dropped', '1']);
    expect(await client.zscore(keys.due, pid)).to.equal(null);
    expect((await storedAttempts(client, keys, pid)).length, 'the attempt stays visible').to.equal(1);
  });

  it('record.lua answers a retry of a finished task’s progress attempt with dropped, and takes it out of the due set', async () => {
    const fields = await running('t3');
    const pid = 't3.progress.wh_1';
    await progress(fields, pid);
    const [held] = await outbox.claim(10, 30_000);
    if (!held) throw new Error('nothing claimed');
    await finish(fields, pid);
    const retry = { n: 1, at: new Date().toISOString(), status_code: 503, duration_ms: 5, error: 'HTTP 503', outcome: 'retry' as const };
    expect(await outbox.record(pid, retry, Date.now() + 100, held.lease)).to.equal('dropped');
    expect(await client.zscore(keys.due, pid)).to.equal(null);
  });

  it('a progress delivery due after its task finished (its holder died) is dropped when claimed, not sent', async () => {
    const fields = await running('t2');
    const pid = 't2.progress.wh_1';
    await progress(fields, pid);
    // A process claims it with a short lease and dies; the task finishes meanwhile.
    const [held] = await outbox.claim(10, 50);
    expect(held?.id).to.equal(pid);
    await finish(fields, pid);
    await sleep(60);
    expect(await outbox.claim(10, 30_000), 'nothing to send').to.deep.equal([]);
    expect(await client.hget(keys.delivery(pid), 'state')).to.equal('dropped');
    expect(await client.zscore(keys.due, pid)).to.equal(null);
  });
});
