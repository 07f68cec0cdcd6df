/** A scrape never waits on Redis for longer than a second: the queue gauges are bounded, the process metrics always arrive. */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { request } from 'undici';
import { createMetrics, type QueueGauges } from '../../src/metrics/metrics.js';
import { startMetricsServer } from '../../src/runtime/metrics-server.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';

/** The value of the first sample of `name` with these labels; null when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return null;
}

const GAUGES: QueueGauges = {
  jobs: [{ queue: 'debug', state: 'waiting', count: 3 }],
  oldestWaitingS: [{ queue: 'debug', seconds: 12 }],
  callbacksPending: 7,
};

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await f();
  return { value, ms: Date.now() - t0 };
}

describe('metrics: bounded queue gauges', () => {
  it('a read that never answers: the scrape answers after collectTimeoutMs, with process metrics and taskhook_redis_up 0', async () => {
    const m = createMetrics({ collectQueues: () => new Promise<never>(() => undefined), collectTimeoutMs: 200 });
    const { value: text, ms } = await timed(() => m.registry.metrics());
    expect(ms).to.be.within(150, 1000);
    expect(sample(text, 'process_cpu_user_seconds_total')).to.be.a('number');
    expect(sample(text, 'taskhook_redis_up')).to.equal(0);
    expect(sample(text, 'taskhook_queue_jobs')).to.equal(null);
    expect(sample(text, 'taskhook_queue_oldest_waiting_age_seconds')).to.equal(null);
    // Unlabelled, so it always has a sample: 0 wherever this process does not report it (sums stay right).
    expect(sample(text, 'taskhook_callbacks_pending')).to.equal(0);
  });

  it('waits about a second by default', async () => {
    const m = createMetrics({ defaults: false, collectQueues: () => new Promise<never>(() => undefined) });
    const { ms } = await timed(() => m.registry.metrics());
    expect(ms).to.be.within(900, 1900);
  });

  it('reports what the read found, leaves the gauges out when another process reports them, and on a failed read', async () => {
    let answer: () => Promise<QueueGauges | null> = async () => GAUGES;
    const m = createMetrics({ defaults: false, collectQueues: () => answer() });
    let text = await m.registry.metrics();
    expect(sample(text, 'taskhook_redis_up')).to.equal(1);
    expect(sample(text, 'taskhook_queue_jobs', { queue: 'debug', state: 'waiting' })).to.equal(3);
    expect(sample(text, 'taskhook_queue_oldest_waiting_age_seconds', { queue: 'debug' })).to.equal(12);
    expect(sample(text, 'taskhook_callbacks_pending')).to.equal(7);

    answer = async () => null;
    text = await m.registry.metrics();
    expect(sample(text, 'taskhook_redis_up')).to.equal(1);
    expect(sample(text, 'taskhook_queue_jobs')).to.equal(null);
    expect(sample(text, 'taskhook_callbacks_pending')).to.equal(0);

    answer = async () => GAUGES;
    await m.registry.metrics();
    answer = async () => {
      throw new Error('NOSCRIPT or worse');
    };
    text = await m.registry.metrics();
    expect(sample(text, 'taskhook_redis_up')).to.equal(0);
    expect(sample(text, 'taskhook_queue_jobs')).to.equal(null);
  });

  it('one read per scrape for the four gauges; an unanswered read is waited on again, not queued behind, and a late answer is used by the scrape that gets it', async () => {
    let reads = 0;
    let release: (g: QueueGauges) => void = () => undefined;
    const m = createMetrics({
      defaults: false,
      collectTimeoutMs: 100,
      collectQueues: () => {
        reads += 1;
        return new Promise<QueueGauges>((resolve) => (release = resolve));
      },
    });
    expect(sample(await m.registry.metrics(), 'taskhook_redis_up')).to.equal(0);
    expect(sample(await m.registry.metrics(), 'taskhook_redis_up')).to.equal(0);
    expect(reads).to.equal(1);
    const third = m.registry.metrics();
    await sleep(20);
    release(GAUGES);
    const text = await third;
    expect(sample(text, 'taskhook_redis_up')).to.equal(1);
    expect(sample(text, 'taskhook_queue_jobs', { queue: 'debug', state: 'waiting' })).to.equal(3);
    expect(reads).to.equal(1);
  });

  it('without a collector there is no taskhook_redis_up', async () => {
    const text = await createMetrics({ defaults: false }).registry.metrics();
    expect(text).not.to.include('taskhook_redis_up');
  });
});

describe('metrics: GET /metrics while Redis is down or hung (real services)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let stack: Stack;
  let workerMetrics: string;
  let closeWorkerMetrics: () => void;

  /** Both scrape endpoints: the API's (behind the key) and a worker's METRICS_PORT server. */
  async function scrapeBoth(): Promise<{ status: number; text: string; ms: number }[]> {
    const one = (url: string, headers: Record<string, string>) =>
      timed(async () => {
        const res = await request(url, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
        return { status: res.statusCode, text: await res.body.text() };
      }).then(({ value, ms }) => ({ ...value, ms }));
    return Promise.all([one(`${stack.url}/metrics`, { 'x-api-key': API_KEY }), one(workerMetrics, {})]);
  }

  before(async () => {
    redis = await startRedis();
    // The default rate limit: a scrape must not wait on (or be refused by) the limiter's Redis counter.
    stack = await startStack({ redisUrl: redis.url, worker: false, env: { RATE_LIMIT_PER_MIN: '600' } });
    const server = await startMetricsServer(stack.services.metrics, 0, '127.0.0.1');
    workerMetrics = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    closeWorkerMetrics = () => server.close();
  });
  after(async () => {
    closeWorkerMetrics?.();
    await stack?.close();
    await redis?.destroy();
  });

  it('reports the gauges and taskhook_redis_up 1 while Redis answers', async () => {
    for (const r of await scrapeBoth()) {
      expect(r.status).to.equal(200);
      expect(sample(r.text, 'taskhook_redis_up')).to.equal(1);
    }
  });

  it('Redis stopped: both answer within 2 s with the process metrics and taskhook_redis_up 0; the gauges come back with Redis', async () => {
    await redis.stop();
    try {
      for (let i = 0; i < 2; i += 1) {
        for (const r of await scrapeBoth()) {
          expect(r.ms).to.be.below(2000);
          expect(r.status).to.equal(200);
          expect(sample(r.text, 'process_resident_memory_bytes')).to.be.greaterThan(0);
          expect(sample(r.text, 'taskhook_redis_up')).to.equal(0);
          expect(sample(r.text, 'taskhook_queue_jobs')).to.equal(null);
        }
      }
    } finally {
      await redis.start();
    }
    let text = '';
    for (let i = 0; i < 50 && sample(text, 'taskhook_redis_up') !== 1; i += 1) {
      await sleep(100);
      text = (await scrapeBoth())[0]?.text ?? '';
    }
    expect(sample(text, 'taskhook_redis_up')).to.equal(1);
    expect(sample(text, 'taskhook_queue_jobs', { queue: 'debug', state: 'waiting' })).to.equal(0);
  });

  it('Redis hung (connected, answering nothing): both answer within 2 s with taskhook_redis_up 0', async () => {
    const c = redis.client();
    const pauseMs = 2500;
    const pausedAt = Date.now();
    try {
      await c.client('PAUSE', pauseMs, 'ALL');
      for (const r of await scrapeBoth()) {
        expect(r.ms).to.be.below(2000);
        expect(r.status).to.equal(200);
        expect(sample(r.text, 'taskhook_redis_up')).to.equal(0);
      }
    } finally {
      // CLIENT UNPAUSE would wait behind the pause too: let it run out.
      await sleep(Math.max(0, pausedAt + pauseMs + 100 - Date.now()));
      c.disconnect();
    }
  });
});
