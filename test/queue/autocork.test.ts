import { expect } from 'chai';
import BeeQueue from 'bee-queue';
import { autoCork } from '../../src/queue/autocork.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { countSocketWrites } from '../helpers/socket-writes.js';

/** node-redis v3 as bee-queue exposes it, callback style. */
interface NodeRedis {
  stream: { destroy(): void; emit(event: string): boolean };
  ready: boolean;
  set(k: string, v: string, cb: (err: Error | null, r: string) => void): void;
  get(k: string, cb: (err: Error | null, r: string | null) => void): void;
  multi(): Multi;
}

interface Multi {
  incr(k: string): Multi;
  get(k: string): Multi;
  exec(cb: (err: Error | null, r: unknown[]) => void): void;
}

const call = <T>(fn: (cb: (err: Error | null, r: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, r) => (err ? reject(err) : resolve(r))));

describe('queue: autoCork (bee-queue client writes batched per event-loop turn)', () => {
  let redis: TestRedis;
  let queue: BeeQueue;
  let client: NodeRedis;

  before(async () => {
    redis = await startRedis();
    queue = new BeeQueue('cork', { redis: { url: redis.url } as BeeQueue.QueueSettings['redis'], isWorker: false, getEvents: false, sendEvents: false });
    await queue.ready();
    client = (queue as unknown as { client: NodeRedis }).client;
  });
  after(async () => {
    await queue.close();
    await redis.destroy();
  });

  /** Socket writes made while `fn` runs and its replies arrive. */
  async function countWrites<T>(fn: () => Promise<T>): Promise<{ writes: number; result: T }> {
    const counter = countSocketWrites(client.stream);
    try {
      const result = await fn();
      return { writes: counter.writes, result };
    } finally {
      counter.restore();
    }
  }

  const burst = () =>
    Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call<string>((cb) => client.set(`k${i}`, `v${i}`, cb)).then(() => call<string | null>((cb) => client.get(`k${i}`, cb))),
      ),
    );

  it('sends the commands of one tick in one write, with every reply in its place', async () => {
    const before = await countWrites(burst);
    expect(before.writes).to.be.at.least(40); // one write per command without it
    autoCork(client);
    autoCork(client); // idempotent
    const after = await countWrites(burst);
    expect(after.result).to.deep.equal(Array.from({ length: 40 }, (_, i) => `v${i}`));
    // 40 SETs in one tick, then 40 GETs in the tick their replies arrive.
    expect(after.writes).to.be.at.most(4);
  });

  it('sends a MULTI (which node-redis corks itself) in the same write as the tick’s other commands', async () => {
    await call<string>((cb) => client.set('m', '0', cb));
    const { writes, result } = await countWrites(() =>
      Promise.all([
        call<unknown[]>((cb) => client.multi().incr('m').get('m').exec(cb)),
        call<string>((cb) => client.set('m2', '1', cb)),
        call<unknown[]>((cb) => client.multi().incr('m').get('m').exec(cb)),
      ]),
    );
    expect(result).to.deep.equal([[1, '1'], 'OK', [2, '2']]);
    expect(writes).to.equal(1);
  });

  it('never sends a dropped connection’s batch on the next one', async () => {
    const lost = Promise.allSettled(Array.from({ length: 10 }, (_, i) => call<string>((cb) => client.set(`d${i}`, 'x', cb))));
    // The drop is noticed in this same tick, before the batch would go out.
    client.stream.destroy();
    client.stream.emit('close');
    await lost;
    for (let i = 0; i < 50 && !client.ready; i++) await new Promise((r) => setTimeout(r, 50));
    expect(client.ready).to.equal(true);
    const [a, b] = await Promise.all([call<string>((cb) => client.set('after', 'yes', cb)), call<string | null>((cb) => client.get('after', cb))]);
    expect([a, b]).to.deep.equal(['OK', 'yes']);
  });
});
