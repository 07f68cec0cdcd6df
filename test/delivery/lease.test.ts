/**
 * Leases are fenced and never outlived: a claim's token decides who may
 * record or give back a delivery, and the dispatcher starts an attempt only
 * while its lease has room for all of it; what cannot start in time goes
 * back to Redis at once, and a freed slot is not lost on a delivery that
 * cannot use it. Real Redis, the real outbox and task-store scripts, real
 * loopback receivers, two dispatchers where the reviewer's scenario needs
 * them; small timeouts and leases so it runs in seconds.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { Agent } from 'undici';
import type { DeliveryDispatcher, DispatcherOptions } from '../../src/delivery/dispatcher.js';
import { createOutbox, type AttemptRecord, type ClaimedDelivery, type Outbox } from '../../src/delivery/outbox.js';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type OutboxEntry, type TaskStore } from '../../src/store/task-store.js';
import { claimed } from '../../src/worker/outcome.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { storedAttempts } from '../helpers/attempts.js';
import { testDispatcher } from '../helpers/dispatcher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request as the receiver saw it. */
interface Arrival {
  id: string;
  path: string;
  start: number;
  end: number | null;
}

describe('delivery: leases', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: TaskStore;
  let outbox: Outbox;
  const keys = createKeys('lse');
  const agent = new Agent();
  let server: http.Server;
  let base: string;
  let arrivals: Arrival[] = [];
  const open = new Set<http.ServerResponse>();
  const dispatchers: DeliveryDispatcher[] = [];

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    store = createTaskStore(client, keys);
    outbox = createOutbox(client, keys, { disableAfterMs: 1e9, progressIntervalMs: 1000 });
    // Answers 204 after `?ms=` milliseconds (never, without it).
    server = http.createServer((req, res) => {
      const a: Arrival = { id: String(req.headers['webhook-id']), path: req.url ?? '', start: Date.now(), end: null };
      arrivals.push(a);
      req.resume();
      const ms = new URL(req.url ?? '/', 'http://x').searchParams.get('ms');
      open.add(res);
      res.on('close', () => {
        a.end = Date.now();
        open.delete(res);
      });
      if (ms !== null) setTimeout(() => res.writeHead(204).end(), Number(ms));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of open) res.destroy();
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    arrivals = [];
    await redis.flush();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop(100)));
    for (const res of open) res.destroy();
  });

  const dispatcher = (o: Partial<DispatcherOptions> & { timeoutMs: number }): DeliveryDispatcher => {
    const d = testDispatcher(outbox, agent, { pollMs: 20, ...o });
    dispatchers.push(d);
    return d;
  };

  /**
   * Deliveries written as the worker writes them on its fast path (one
   * script, created already claimed, due = lease end), and their claimed
   * form as the worker hands them to deliverNow (no token, no lease end).
   */
  const fastPath = async (leaseMs: number, specs: { id: string; path: string; sub?: string }[]): Promise<ClaimedDelivery[]> => {
    const fields = { id: 'task1', tenant: 'x', gen: '1', status: 'running' };
    await client.hset(keys.task('task1'), fields);
    const entries: OutboxEntry[] = specs.map((s) => ({
      deliveryId: s.id, url: `${base}${s.path}`, body: '{}', msgId: `msg_${s.id}`, event: 'task.started',
      secret: s.sub ? `sub:${s.sub}` : 'default', sub: s.sub ?? '', claim: true, trace: '',
    }));
    const leaseUntil = Date.now() + leaseMs;
    const created = await store.enqueue(fields, entries, leaseUntil);
    expect(created).to.deep.equal(specs.map((s) => s.id));
    return entries.map((e) => claimed(e, 'task1', leaseUntil));
  };

  const attempt = (n: number, outcome: AttemptRecord['outcome']): AttemptRecord => ({
    n, at: new Date().toISOString(), status_code: outcome === 'delivered' ? 204 : 503, duration_ms: 5, error: null, outcome,
  });
  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
    for (const t0 = Date.now(); !(await ok()); await sleep(20)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
  };

  describe('fencing in the outbox scripts', () => {
    it('a stale record is logged but changes nothing; a stale release cannot undo a live claim', async () => {
      // Created claimed by process A (token 0), with a lease that has already run out.
      await fastPath(-1, [{ id: 'f1', path: '/x' }]);
      // Process B claims it: token 1.
      const [b] = await outbox.claim(10, 60_000);
      expect(b?.lease).to.equal(1);
      const bDue = await client.zscore(keys.due, 'f1');

      // A's late attempt: appended to the log for visibility, nothing else moves.
      expect(await outbox.record('f1', attempt(1, 'delivered'), null, 0)).to.equal('stale');
      expect(await client.hgetall(keys.delivery('f1'))).to.include({ state: 'delivering', n: '0', lease: '1' });
      expect(await client.zscore(keys.due, 'f1')).to.equal(bDue);
      expect((await storedAttempts(client, keys, 'f1')).length).to.equal(1);
      // A's late give-back must not hand B's live claim to a third process.
      expect(await outbox.release('f1', Date.now(), 0)).to.equal(false);
      expect(await client.hget(keys.delivery('f1'), 'state')).to.equal('delivering');
      expect(await client.zscore(keys.due, 'f1')).to.equal(bDue);

      // B, the holder, records a retry; C claims the retry (token 2).
      const next = Date.now() - 1;
      expect(await outbox.record('f1', attempt(1, 'retry'), next, 1)).to.equal('pending');
      expect(await client.hgetall(keys.delivery('f1'))).to.include({ state: 'pending', n: '1' });
      const [c] = await outbox.claim(10, 60_000);
      expect(c).to.include({ id: 'f1', lease: 2, attempts: 1 });
      // B's give-back or a second record of B's claim now act on nothing.
      expect(await outbox.release('f1', Date.now(), 1)).to.equal(false);
      expect(await outbox.record('f1', attempt(1, 'failed'), null, 1)).to.equal('stale');
      expect(await client.hget(keys.delivery('f1'), 'state')).to.equal('delivering');
      expect(await client.zcard(keys.dead('x'))).to.equal(0);
      // C's own give-back works.
      expect(await outbox.release('f1', Date.now(), 2)).to.equal(true);
      expect(await client.hget(keys.delivery('f1'), 'state')).to.equal('pending');
      expect((await storedAttempts(client, keys, 'f1')).length).to.equal(3);
    });

    it('the creator records under token 0 while nobody else has claimed', async () => {
      await fastPath(60_000, [{ id: 'f2', path: '/x' }]);
      expect(await outbox.record('f2', attempt(1, 'delivered'), null, 0)).to.equal('delivered');
      expect(await client.zscore(keys.due, 'f2')).to.equal(null);
    });
  });

  describe('the dispatcher', () => {
    // Attempts may take 2 s; a claim lasts 2.6 s; an attempt needs 0.3 s of room beyond its timeout.
    const TIMEOUT = 2000;
    const LEASE = 2600;
    const MARGIN = 300;

    it('two processes never send the same delivery at once: what waits here past its start-by deadline goes back (the reviewer’s scenario)', async () => {
      const a = dispatcher({ timeoutMs: TIMEOUT, leaseMs: LEASE, leaseMarginMs: MARGIN });
      const b = dispatcher({ timeoutMs: TIMEOUT, leaseMs: LEASE, leaseMarginMs: MARGIN });
      // d0 answers after 1 s, d1 after 1.8 s. Under the old rule (start while under half
      // the lease) d1 started at 1 s and ran until 2.8 s, past its lease (2.6 s), and B
      // sent it meanwhile.
      const ds = await fastPath(LEASE, [
        { id: 'd0', path: '/d?ms=1000' },
        { id: 'd1', path: '/d?ms=1800' },
        { id: 'd2', path: '/d?ms=100' },
        { id: 'd3', path: '/d?ms=100' },
      ]);
      for (const d of ds) a.deliverNow(d);
      a.start();
      b.start();
      await until('four deliveries', async () => {
        const states = await Promise.all(ds.map((d) => client.hget(keys.delivery(d.id), 'state')));
        return states.every((s) => s === 'delivered');
      }, 12_000);
      await sleep(200);

      const sends = new Map<string, number>();
      for (const x of arrivals) sends.set(x.id, (sends.get(x.id) ?? 0) + 1);
      expect(Object.fromEntries(sends), 'each webhook-id sent once').to.deep.equal({ msg_d0: 1, msg_d1: 1, msg_d2: 1, msg_d3: 1 });
      for (const d of ds) {
        expect(await client.hget(keys.delivery(d.id), 'n'), d.id).to.equal('1');
        expect((await storedAttempts(client, keys, d.id)).length, `${d.id}: one attempt record, none stale`).to.equal(1);
      }
    });

    it('gives back what waits behind a hanging host by its start-by deadline, not when the host frees', async () => {
      const a = dispatcher({ timeoutMs: TIMEOUT, leaseMs: LEASE, leaseMarginMs: MARGIN });
      const b = dispatcher({ timeoutMs: TIMEOUT, leaseMs: LEASE, leaseMarginMs: MARGIN });
      // h0 hangs until A's attempt times out (2 s); h1 and h2 wait in A behind it.
      const ds = await fastPath(LEASE, [
        { id: 'h0', path: '/h' },
        { id: 'h1', path: '/h?ms=10' },
        { id: 'h2', path: '/h?ms=10' },
      ]);
      const t0 = Date.now();
      for (const d of ds) a.deliverNow(d);
      b.start(); // only B polls: what A gives back, B sends
      await until('h1 and h2 sent', () => arrivals.filter((x) => x.id !== 'msg_h0').length >= 2, 5000);
      const late = arrivals.filter((x) => x.id !== 'msg_h0').map((x) => x.start - t0);
      // Their start-by deadline was 0.3 s after the hand-over; A's hanging attempt ends at 2 s.
      for (const ms of late) expect(ms, 'sent by B long before A’s host slot frees').to.be.below(1200);
      expect(a.inFlight()).to.equal(1);
    });

    it('a freed host slot goes to the first waiting delivery that can use it, not only the oldest', async () => {
      // Two requests per host, one per endpoint. x0 (endpoint X) hangs for 1.5 s; z0
      // (endpoint Z) answers at once; x1 (X again) and y1 (endpoint Y) wait for the host.
      const a = dispatcher({ timeoutMs: 5000, hostConcurrency: 2, endpointConcurrency: 1 });
      const ds = await fastPath(10_000, [
        { id: 'x0', path: '/e?ms=1500', sub: 'X' },
        { id: 'z0', path: '/e?ms=100', sub: 'Z' },
        { id: 'x1', path: '/e?ms=10', sub: 'X' },
        { id: 'y1', path: '/e?ms=10', sub: 'Y' },
      ]);
      const t0 = Date.now();
      for (const d of ds) a.deliverNow(d);
      await until('y1 sent', () => arrivals.some((x) => x.id === 'msg_y1'), 5000);
      const y1 = arrivals.find((x) => x.id === 'msg_y1') as Arrival;
      // When z0 ends, x1 (oldest) cannot start (endpoint X is busy): y1 takes the slot.
      expect(y1.start - t0, 'y1 does not wait for x0').to.be.below(800);
      await until('x1 sent', () => arrivals.some((x) => x.id === 'msg_x1'), 5000);
      const x1 = arrivals.find((x) => x.id === 'msg_x1') as Arrival;
      expect(x1.start - t0, 'x1 waits for endpoint X').to.be.at.least(1400);
    });
  });
});
