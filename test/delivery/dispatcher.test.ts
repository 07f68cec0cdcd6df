/**
 * The dispatcher's per-host cap counts HTTP requests to a receiver: a slow
 * write of the attempt record must not keep the next delivery to that host
 * waiting. Real loopback receiver and undici; the outbox is an in-memory
 * stand-in whose `record` is slow on purpose.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Agent } from 'undici';
import type { AttemptRecord, ClaimedDelivery, Outbox } from '../../src/delivery/outbox.js';
import { testDispatcher } from '../helpers/dispatcher.js';

const RECORD_MS = 400;

describe('delivery: dispatcher', () => {
  let server: http.Server;
  let url: string;
  let base: string;
  let inFlight = 0;
  let maxInFlight = 0;
  let arrivals: number[] = [];
  /** Requests to /hang wait here until `answerHung()`. */
  let hung: http.ServerResponse[] = [];
  const answerHung = (): void => {
    for (const res of hung.splice(0)) res.writeHead(204).end();
  };
  const agent = new Agent();

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hang') {
        req.resume();
        hung.push(res);
        return;
      }
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      arrivals.push(Date.now());
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          inFlight -= 1;
          res.writeHead(204).end();
        }, 20),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    url = `${base}/hook`;
  });
  after(async () => {
    answerHung();
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
  });

  /** One request in flight per host, no retries, signed with a test secret. */
  const oneSlotDispatcher = (outbox: Outbox, o: { timeoutMs: number; pollMs?: number }) => testDispatcher(outbox, agent, o);

  it('frees a host slot when the HTTP exchange ends, not when its record is written', async () => {
    arrivals = [];
    maxInFlight = 0;
    const recorded: { id: string; outcome: string; at: number }[] = [];
    const outbox: Outbox = {
      claim: async () => [],
      record: async (id: string, attempt: AttemptRecord) => {
        await new Promise((r) => setTimeout(r, RECORD_MS));
        recorded.push({ id, outcome: attempt.outcome, at: Date.now() });
        return attempt.outcome;
      },
      release: async () => true,
      backlog: async () => 0,
    };
    const dispatcher = oneSlotDispatcher(outbox, { timeoutMs: 5000 });
    const delivery = (i: number): ClaimedDelivery => ({
      id: `d${i}`, url, body: '{}', msgId: `msg_${i}`, attempts: 0, secret: 'default', event: 'task.completed', taskId: `t${i}`, sub: '', trace: '', lease: 0, leaseUntil: Date.now() + 10_000,
    });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) dispatcher.deliverNow(delivery(i));
    for (let waited = 0; recorded.length < 3 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await dispatcher.stop(1000);

    expect(recorded.map((r) => r.outcome)).to.deep.equal(['delivered', 'delivered', 'delivered']);
    expect(maxInFlight, 'the cap of 1 request per host holds').to.equal(1);
    expect(arrivals).to.have.length(3);
    // All three requests went out one after another while the first record was still being written.
    expect((arrivals[2] as number) - t0).to.be.below(RECORD_MS);
    expect((recorded[0] as { at: number }).at - t0).to.be.at.least(RECORD_MS);
  });

  it('keeps a silent receiver’s overflow in Redis for longer the longer it stays silent; once it answers, its next burst waits here', async () => {
    hung = [];
    const due = new Map<string, number>();
    const releases: { id: string; delayMs: number; at: number }[] = [];
    const byId = new Map<string, ClaimedDelivery>();
    // An in-memory outbox: what is released comes back from claim() once due.
    const outbox: Outbox = {
      claim: async (limit: number, leaseMs: number) => {
        const now = Date.now();
        const out: ClaimedDelivery[] = [];
        for (const [id, at] of due) {
          if (at > now || out.length >= limit) continue;
          due.set(id, now + leaseMs);
          out.push(byId.get(id) as ClaimedDelivery);
        }
        return out;
      },
      record: async (id: string, attempt: AttemptRecord) => {
        due.delete(id);
        return attempt.outcome;
      },
      release: async (id: string, dueAt: number) => {
        const now = Date.now();
        releases.push({ id, delayMs: dueAt - now, at: now });
        due.set(id, dueAt);
        return true;
      },
      backlog: async () => due.size,
    };
    const dispatcher = oneSlotDispatcher(outbox, { timeoutMs: 10_000, pollMs: 20 });
    const delivery = (i: number): ClaimedDelivery => {
      const d = { id: `h${i}`, url: `${base}/hang`, body: '{}', msgId: `msg_h${i}`, attempts: 0, secret: 'default', event: 'task.completed', taskId: `t${i}`, sub: '', trace: '', lease: 0, leaseUntil: Date.now() + 15_000 };
      byId.set(d.id, d);
      return d;
    };
    dispatcher.start();
    // The first request hangs; a second later the receiver counts as silent.
    due.set('h0', Date.now() + 60_000);
    dispatcher.deliverNow(delivery(0));
    await new Promise((r) => setTimeout(r, 1100));
    expect(releases, 'nothing released while the receiver may still answer').to.deep.equal([]);
    const t0 = Date.now();
    // 1 in flight, and 4 waiting (4 × the cap of a silent receiver) fit; the other 6 go back to Redis.
    for (let i = 1; i <= 10; i++) {
      due.set(`h${i}`, Date.now() + 60_000);
      dispatcher.deliverNow(delivery(i));
    }
    await new Promise((r) => setTimeout(r, 2500));
    const silentFor = (r: { at: number }) => r.at - t0;
    expect(hung, 'one request at a time to the hanging host').to.have.length(1);
    expect(releases.length, 'overflow went back to Redis').to.be.at.least(6);
    const late = releases.filter((r) => silentFor(r) >= 1000);
    expect(late.length, 'released again after a second of silence').to.be.above(0);
    for (const r of late) expect(r.delayMs, `delay of a release ${silentFor(r)} ms into the silence`).to.be.at.least(silentFor(r) - 50);
    // Each overflow delivery came back only a few times, not every few hundred ms.
    expect(releases.length).to.be.at.most(6 * 5);

    // The receiver answers: it is draining its queue, so its next burst waits
    // here (64 × the cap) instead of behind everything due in Redis.
    answerHung();
    await new Promise((r) => setTimeout(r, 100));
    const before = releases.length;
    for (let i = 11; i < 21; i++) {
      due.set(`h${i}`, Date.now() + 60_000);
      dispatcher.deliverNow(delivery(i));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(releases.slice(before).filter((r) => /^h(1[1-9]|20)$/.test(r.id)), 'none of the burst went back to Redis').to.deep.equal([]);
    answerHung();
    await dispatcher.stop(2000);
    answerHung();
  });
});

describe('delivery/dispatcher: a freed host slot under the global cap', () => {
  it('moves one waiting delivery to the global list, not the whole host queue (nothing goes back to Redis)', async () => {
    const held = new Map<string, http.ServerResponse>();
    // Three receivers (a host is name and port for the per-host cap), each holding its requests.
    const servers = [0, 1, 2].map(() =>
      http.createServer((req, res) => {
        req.resume();
        held.set(req.url ?? '', res);
      }),
    );
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const [portA, portB, portC] = servers.map((s) => (s.address() as AddressInfo).port);
    const agent = new Agent();
    const released: string[] = [];
    const recorded: string[] = [];
    const outbox: Outbox = {
      claim: async () => [],
      record: async (id) => {
        recorded.push(id);
        return 'delivered';
      },
      release: async (id) => {
        released.push(id);
        return true;
      },
      backlog: async () => 0,
    };
    const dispatcher = testDispatcher(outbox, agent, { timeoutMs: 5000, concurrency: 3, hostConcurrency: 1 });
    const delivery = (id: string, port: number | undefined): ClaimedDelivery => ({
      id, url: `http://127.0.0.1:${port}/${id}`, body: '{}', msgId: id, attempts: 0, secret: 'default', event: 'task.completed', taskId: id, sub: '', trace: '', lease: 0, leaseUntil: Date.now() + 10_000,
    });
    const answer = (id: string) => held.get(`/${id}`)?.writeHead(204).end();
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      dispatcher.deliverNow(delivery('A1', portA));
      dispatcher.deliverNow(delivery('B1', portB));
      for (const id of ['A2', 'A3', 'A4', 'A5']) dispatcher.deliverNow(delivery(id, portA));
      dispatcher.deliverNow(delivery('C1', portC));
      await until(() => held.size === 3);
      answer('A1'); // frees host A's slot while the global cap (3) is still full
      await until(() => recorded.includes('A1'));
      await until(() => held.has('/A2'));
      expect(released, 'sent back to Redis').to.deep.equal([]);
      for (const id of ['B1', 'C1', 'A2']) answer(id);
      for (const id of ['A3', 'A4', 'A5']) {
        await until(() => held.has(`/${id}`));
        answer(id);
      }
      await until(() => recorded.length === 7);
      expect(recorded).to.have.members(['A1', 'B1', 'C1', 'A2', 'A3', 'A4', 'A5']);
      expect(released).to.deep.equal([]);
    } finally {
      for (const res of held.values()) if (!res.writableEnded) res.writeHead(204).end();
      await dispatcher.stop(500);
      await agent.destroy();
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
    }
  });
});
