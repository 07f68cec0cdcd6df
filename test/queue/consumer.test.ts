/**
 * The job consumer against a real Redis: the producer's jobs, the task
 * store's take script and bee-queue's own stall check.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createConsumer, type Consumer } from '../../src/queue/consumer.js';
import { createProducer, type NewTask, type Producer } from '../../src/queue/producer.js';
import { createQueue } from '../../src/queue/queues.js';
import { createKeys } from '../../src/store/keys.js';
import { createTaskStore, type TakenJob, type TaskStore } from '../../src/store/task-store.js';
import { silentLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const task: NewTask = { task_type: 'debug.echo', queue: 'debug', task_data: {}, callback_url: null, metadata: {}, project_id: null, options: {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('queue: consumer', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let client: Redis;
  let blocking: Redis;
  let producer: Producer;
  let store: TaskStore;
  let consumer: Consumer | null = null;
  const keys = createKeys('thc');
  const prefix = 'thc:bq:debug:';

  /** A consumer whose run() is `run`, counting its take calls. */
  function consume(concurrency: number, run: (job: TakenJob) => Promise<unknown>, stallIntervalMs = 5000): { takes: () => number } {
    let takes = 0;
    consumer = createConsumer({
      prefix,
      concurrency,
      take: (max, moved) => {
        takes += 1;
        return store.take('debug', max, moved, 2);
      },
      giveBack: (id, job) => (job?.verdict.kind === 'run' ? store.requeue(id, 'debug', job.verdict.fields.claim ?? '', null) : store.giveBack(id, 'debug')),
      run,
      redis: client,
      blocking,
      stallIntervalMs,
      logger: silentLogger(),
      waitSeconds: 1,
    });
    consumer.start();
    return { takes: () => takes };
  }
  const submit = async (n: number): Promise<string[]> => (await producer.submit('t', Array.from({ length: n }, () => task))).map((t) => t.task_id);

  beforeEach(async () => {
    redis = await startRedis();
    client = redis.client();
    blocking = redis.client();
    store = createTaskStore(client, keys);
    producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: 5000 });
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = null;
    await producer.close();
    blocking.disconnect();
    client.disconnect();
    await redis.destroy();
  });

  it('takes what waits in few script calls, never holds more than its concurrency, and runs every job once', async () => {
    const ids = await submit(40);
    const ran: string[] = [];
    let holding = 0;
    let most = 0;
    const { takes } = consume(10, async (job) => {
      holding += 1;
      most = Math.max(most, holding);
      await sleep(5);
      ran.push(job.id);
      await store.finish((job.verdict as { fields: Record<string, string> }).fields, { status: 'completed', result: {} }, [], [], 0);
      holding -= 1;
    });
    for (let i = 0; i < 200 && ran.length < 40; i++) await sleep(20);
    expect([...ran].sort()).to.deep.equal([...ids].sort());
    expect(most).to.equal(10);
    // bee-queue's own consumer makes one BRPOPLPUSH per job; slots freed together are filled together here.
    expect(takes()).to.be.below(30);
    expect(await client.llen(`${prefix}active`)).to.equal(0);
  });

  it('waits for the next job when none is waiting, and starts it at once', async () => {
    const started: number[] = [];
    consume(2, async () => void started.push(Date.now()));
    await sleep(200); // blocked in its wait by now
    const at = Date.now();
    await submit(1);
    for (let i = 0; i < 50 && started.length === 0; i++) await sleep(10);
    expect(started).to.have.length(1);
    expect((started[0] ?? Infinity) - at).to.be.below(300);
  });

  /**
   * Runs `body` with one job held by a consumer whose run() waits for
   * release(), then bee-queue's own stall check (300 ms interval) several times.
   */
  async function underStallChecks(body: (held: string, release: () => void, stallChecks: () => Promise<void>) => Promise<void>): Promise<void> {
    const queue = createQueue('debug', { redisUrl: redis.url, keys, role: 'worker', stallIntervalMs: 300 });
    queue.on('error', () => undefined);
    let release: () => void = () => undefined;
    try {
      await queue.ready();
      const [held] = await submit(1);
      const running = new Promise<void>((r) => (release = r));
      let started = false;
      consume(1, () => ((started = true), running), 300);
      while (!started) await sleep(10);
      await body(held as string, release, async () => {
        for (let i = 0; i < 8; i++) {
          await queue.checkStalledJobs();
          await sleep(150);
        }
      });
    } finally {
      release();
      await queue.close(1000).catch(() => undefined);
    }
  }

  it('keeps the jobs it holds out of bee-queue\'s stall check, which still puts back a job nobody holds', async () => {
    await underStallChecks(async (held, _release, stallChecks) => {
      // A job some dead worker left active.
      await client.multi().hset('thc:bq:debug:jobs', 'orphan', '{}').lpush(`${prefix}active`, 'orphan').exec();
      await stallChecks();
      const [active, waiting] = await Promise.all([client.lrange(`${prefix}active`, 0, -1), client.lrange(`${prefix}waiting`, 0, -1)]);
      expect(active).to.deep.equal([held]);
      expect(waiting).to.deep.equal(['orphan']);
    });
  });

  it('keeps guarding a job that still runs after stop() (the shutdown grace), and stops guarding once it settles', async () => {
    await underStallChecks(async (held, release, stallChecks) => {
      await consumer?.stop();
      await stallChecks();
      expect(await client.lrange(`${prefix}active`, 0, -1)).to.deep.equal([held]);
      expect(await client.llen(`${prefix}waiting`)).to.equal(0);
      release();
      await sleep(50);
      expect(consumer?.held()).to.equal(0);
    });
  });

  it('stop() ends a wait at once, and a job queued afterwards stays waiting for someone else', async () => {
    const ran: string[] = [];
    consume(2, async (job) => void ran.push(job.id));
    await sleep(200);
    const at = Date.now();
    await consumer?.stop();
    expect(Date.now() - at).to.be.below(500);
    const [id] = await submit(1);
    await sleep(1500); // longer than one wait
    expect(ran).to.deep.equal([]);
    expect(await client.lrange(`${prefix}waiting`, 0, -1)).to.deep.equal([id]);
    expect(await client.hget(keys.task(id as string), 'status')).to.equal('queued');
  });
});
