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
import { createDeliveryDispatcher } from '../../src/delivery/dispatcher.js';
import type { AttemptRecord, ClaimedDelivery, Outbox } from '../../src/delivery/outbox.js';
import { createSigner } from '../../src/delivery/sign.js';
import { silentLogger } from '../../src/logger.js';

const RECORD_MS = 400;

describe('delivery: dispatcher', () => {
  let server: http.Server;
  let url: string;
  let inFlight = 0;
  let maxInFlight = 0;
  let arrivals: number[] = [];
  const agent = new Agent();

  before(async () => {
    server = http.createServer((req, res) => {
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
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
  });

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
      release: async () => undefined,
      backlog: async () => 0,
    };
    const signer = createSigner('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const dispatcher = createDeliveryDispatcher({
      outbox,
      agent,
      route: () => ({ signer, headers: {} }),
      policy: { maxRetries: 0, backoffMs: 1000, retryAfterMaxMs: 1000, retryStatuses: [] },
      logger: silentLogger(),
      timeoutMs: 5000,
      maxResponseBytes: 1024,
      concurrency: 10,
      hostConcurrency: 1,
    });
    const delivery = (i: number): ClaimedDelivery => ({
      id: `d${i}`, url, body: '{}', msgId: `msg_${i}`, attempts: 0, secret: 'default', event: 'task.completed', taskId: `t${i}`, sub: '', trace: '',
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
});
