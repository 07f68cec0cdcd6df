import { createServer, type AddressInfo, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { main } from '../../src/cli/main.js';
import { TOP_READ_TIMEOUT_MS, age, renderTop } from '../../src/cli/top.js';
import { readTop, type TopSnapshot } from '../../src/cli/top-data.js';
import { startWorkerProcess, type RunningWorker } from '../../src/runtime/worker-process.js';
import { registry } from '../../tasks/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { memoryIo, runCli } from './cli-helpers.js';

async function topJson(redisUrl: string): Promise<TopSnapshot> {
  const m = memoryIo({ REDIS_URL: redisUrl });
  expect(await main(['top', '--once', '--json'], m.io)).to.equal(0);
  return JSON.parse(m.out()) as TopSnapshot;
}

describe('taskhook top', function () {
  let redis: TestRedis;
  let stack: Stack;
  let receiver: Receiver;
  let worker: RunningWorker | null = null;

  before(async function () {
    redis = await startRedis();
    receiver = await startReceiver();
    // No worker: tasks stay queued until the test starts one. Retries wait long, so a failing callback stays visible.
    stack = await startStack({ redisUrl: redis.url, worker: false, env: { CALLBACK_BACKOFF_MS: '600000' } });
  });

  after(async function () {
    await worker?.close(1000);
    await stack?.close();
    await receiver?.close();
    await redis?.destroy();
  });

  it('shows waiting tasks with no worker running, and the age of the oldest (spawned binary)', async function () {
    const submitted = Date.now();
    for (let i = 0; i < 3; i += 1) {
      const r = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 300 }, callback_url: `${receiver.url}/cb` });
      expect(r.status).to.equal(202);
    }
    await sleep(1100);
    const r = await runCli(['top', '--once'], { REDIS_URL: redis.url });
    expect(r.code, r.stderr).to.equal(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith('debug'));
    // QUEUE WAITING ACTIVE DELAYED FAILED OLDEST DONE/MIN SLOTS
    expect(row).to.match(/^debug +3 +0 +0 +0 +\d+s +- +0\/0$/);
    const oldest = Number(/ (\d+)s /.exec(row ?? '')?.[1]);
    expect(oldest).to.be.at.least(1).and.at.most(Math.ceil((Date.now() - submitted) / 1000));
    expect(r.stdout).to.match(/^video +0 +0 +0 +0 +- +- +0\/0$/m);
    expect(r.stdout).to.include('no live workers');
    expect(r.stdout).to.include('callbacks: 0 pending, 0 failing');
    expect(r.stdout).not.to.include('\x1b[');
  });

  it('shows a worker row from the heartbeat, its busy slots, completions per minute, and failing callbacks', async function () {
    receiver.script([], 503);
    worker = await startWorkerProcess(stack.services, { queues: ['debug'], concurrency: 2, registry, deliver: true, heartbeatMs: 100 });
    const id = `${hostname()}:${process.pid}`;

    // While the first two tasks sleep: two busy slots, one task still waiting.
    let snap = await topJson(redis.url);
    for (let i = 0; snap.workers[0]?.busy !== 2 && i < 50; i += 1) {
      await sleep(50);
      snap = await topJson(redis.url);
    }
    expect(snap.workers).to.have.length(1);
    expect(snap.workers[0]).to.include({ id, concurrency: 2, busy: 2 });
    expect(snap.workers[0]?.queues).to.deep.equal(['debug']);
    const debug = snap.queues.find((q) => q.queue === 'debug');
    expect(debug).to.include({ slots: 2 });
    expect(debug?.waiting).to.be.at.most(1);

    // After all three settle: done and the per-minute rate come from the heartbeat.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(snap.workers[0]?.done.debug === 3 && snap.callbacks.failing === 3)) {
      await sleep(100);
      snap = await topJson(redis.url);
    }
    expect(snap.workers[0]?.done).to.deep.equal({ debug: 3 });
    expect(snap.workers[0]?.rate).to.deep.equal({ debug: 3 });
    expect(snap.queues.find((q) => q.queue === 'debug')).to.include({ waiting: 0, active: 0, perMinute: 3, slots: 2, oldestWaitingMs: null });
    // Each callback failed once (503) and waits 10 minutes for its retry.
    expect(snap.callbacks).to.deep.equal({ pending: 3, failing: 3, sampled: 3 });

    const m = memoryIo({ REDIS_URL: redis.url });
    expect(await main(['top', '--once'], m.io)).to.equal(0);
    expect(m.out()).to.match(/^debug +0 +0 +0 +0 +- +3 +0\/2$/m);
    expect(m.out()).to.match(new RegExp(`^${id.replace(/[.]/g, '\\.')} +debug +0/2 +3 +3 +\\d+(ms|s) +\\d+ms ago$`, 'm'));
    expect(m.out()).to.include('callbacks: 3 pending, 3 failing');
  });

  it('drops the worker row when the worker closes', async function () {
    await worker?.close(1000);
    worker = null;
    const snap = await topJson(redis.url);
    expect(snap.workers).to.deep.equal([]);
    expect(snap.queues.find((q) => q.queue === 'debug')?.perMinute).to.equal(null);
  });

  it('live mode redraws until interrupted (clear screen on a terminal)', async function () {
    const m = memoryIo({ REDIS_URL: redis.url }, true);
    const done = main(['top', '--interval', '100'], m.io);
    await sleep(350);
    m.interrupt();
    expect(await done).to.equal(0);
    const frames = m.out().split('\x1b[H\x1b[2J').filter((f) => f.length > 0);
    expect(frames.length).to.be.at.least(2);
    expect(frames[0]).to.include('QUEUE');
  });

  it('reports an unreachable Redis and exits 1', async function () {
    this.timeout(10_000);
    const m = memoryIo({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await main(['top', '--once'], m.io)).to.equal(1);
    expect(m.err()).to.include('No Redis answered at redis://127.0.0.1:1');
  });

  it('OLDEST counts from when the task was last queued (a retry), from created for a record without queued', async function () {
    const c = redis.client();
    try {
      const { createKeys } = await import('../../src/store/keys.js');
      const keys = createKeys('oldest');
      const now = Date.now();
      await c.hset(keys.task('a'), 'created', String(now - 3_600_000), 'queued', String(now - 5000));
      await c.hset(keys.task('b'), 'created', String(now - 90_000));
      await c.lpush(`${keys.bq}:debug:waiting`, 'a');
      await c.lpush(`${keys.bq}:image:waiting`, 'b');
      const snap = await readTop(c, keys, now);
      expect(snap.queues.find((q) => q.queue === 'debug')?.oldestWaitingMs).to.equal(5000);
      expect(snap.queues.find((q) => q.queue === 'image')?.oldestWaitingMs).to.equal(90_000);
    } finally {
      c.disconnect();
    }
  });

  it('readTop honours the key prefix', async function () {
    const c = redis.client();
    try {
      await c.lpush('other:bq:audio:waiting', 'x', 'y');
      const m = memoryIo({ REDIS_URL: redis.url });
      expect(await main(['top', '--once', '--json', '--prefix', 'other'], m.io)).to.equal(0);
      const snap = JSON.parse(m.out()) as TopSnapshot;
      expect(snap.queues.find((q) => q.queue === 'audio')?.waiting).to.equal(2);
      expect(snap.queues.find((q) => q.queue === 'debug')?.waiting).to.equal(0);
      const { createKeys } = await import('../../src/store/keys.js');
      expect((await readTop(c, createKeys('th'))).queues.find((q) => q.queue === 'audio')?.waiting).to.equal(0);
    } finally {
      c.disconnect();
    }
  });
});

/**
 * A server that speaks just enough RESP for a client to connect (INFO, PING,
 * CLIENT, SELECT) and then answers nothing: a Redis that hangs after the
 * handshake.
 */
async function startSilentRedis(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let silent = false;
    socket.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
        const name = (m[1] ?? '').toUpperCase();
        if (silent || !['INFO', 'PING', 'CLIENT', 'SELECT'].includes(name)) {
          silent = true; // replies come in order: after one unanswered command, none
          continue;
        }
        if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n';
          socket.write(`$${info.length}\r\n${info}\r\n`);
        } else socket.write(name === 'PING' ? '+PONG\r\n' : '+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('taskhook top when Redis goes away', function () {
  this.timeout(30_000);
  let redis: TestRedis;

  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    await redis?.destroy();
  });

  /** Resolves once `pred` holds for everything `m` printed. */
  async function until(m: ReturnType<typeof memoryIo>, pred: (out: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(m.out())) {
      if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${m.out()}`);
      await sleep(20);
    }
    return m.out();
  }

  it('live: says Redis is unreachable instead of the last tables, shows them again once it is back, and Ctrl-C exits at once', async function () {
    const m = memoryIo({ REDIS_URL: redis.url });
    const done = main(['top', '--interval', '100'], m.io);
    await until(m, (o) => o.includes('QUEUE'));
    await redis.stop();
    let out = await until(m, (o) => o.includes('Redis unreachable'), 3000);
    expect(out).to.include(`Redis unreachable at 127.0.0.1:${redis.port}`);
    expect(out).to.match(/Last snapshot read at .* UTC; nothing is shown until Redis answers again\./);
    // No tables after the first "unreachable" frame while Redis is down.
    await sleep(300);
    out = m.out();
    expect(out.slice(out.indexOf('Redis unreachable'))).not.to.include('QUEUE');

    await redis.start();
    out = await until(m, (o) => o.lastIndexOf('QUEUE') > o.lastIndexOf('Redis unreachable'), 5000);
    expect(out.slice(out.lastIndexOf('QUEUE'))).to.match(/^debug +0 +0 +0 +0/m);

    await redis.stop();
    await until(m, (o) => o.lastIndexOf('Redis unreachable') > o.lastIndexOf('QUEUE'), 3000);
    const t0 = Date.now();
    m.interrupt();
    expect(await done).to.equal(0);
    expect(Date.now() - t0).to.be.below(200);
    await redis.start();
  });

  it('live: a hung Redis is reported within the read timeout, and Ctrl-C during the hung read exits at once', async function () {
    const c = redis.client();
    const pauseMs = 4000;
    const m = memoryIo({ REDIS_URL: redis.url });
    const done = main(['top', '--interval', '100'], m.io);
    try {
      await until(m, (o) => o.includes('QUEUE'));
      const pausedAt = Date.now();
      await c.client('PAUSE', pauseMs, 'ALL');
      const out = await until(m, (o) => o.includes('Redis unreachable'), TOP_READ_TIMEOUT_MS + 1500);
      expect(out).to.include(`no answer within ${TOP_READ_TIMEOUT_MS} ms`);
      expect(Date.now() - pausedAt).to.be.below(TOP_READ_TIMEOUT_MS + 1000);
      // The next refresh is hung again; Ctrl-C does not wait for it.
      await sleep(300);
      const t0 = Date.now();
      m.interrupt();
      expect(await done).to.equal(0);
      expect(Date.now() - t0).to.be.below(200);
      await sleep(Math.max(0, pausedAt + pauseMs + 100 - Date.now()));
    } finally {
      c.disconnect();
    }
  });

  it('--once: a Redis that connects but answers no read → "Redis unreachable" on stderr, exit 1, within the read timeout', async function () {
    const silent = await startSilentRedis();
    try {
      for (const args of [['top', '--once'], ['top', '--once', '--json']]) {
        const m = memoryIo({ REDIS_URL: silent.url });
        const t0 = Date.now();
        expect(await main(args, m.io)).to.equal(1);
        expect(Date.now() - t0).to.be.below(TOP_READ_TIMEOUT_MS + 1000);
        expect(m.err()).to.match(/^taskhook: Redis unreachable at 127\.0\.0\.1:\d+: no answer within 2000 ms\.\n$/);
        expect(m.out()).to.equal('');
      }
    } finally {
      await silent.close();
    }
  });
});

describe('renderTop / age', function () {
  it('formats ages', function () {
    expect([age(850), age(12_400), age(245_000), age(3 * 3_600_000 + 12 * 60_000), age(52 * 3_600_000)]).to.deep.equal(['850ms', '12s', '4m05s', '3h12m', '2d04h']);
  });

  it('renders the tables and the sampled failing count', function () {
    const text = renderTop({
      at: Date.parse('2025-01-01T12:00:10Z'),
      queues: [{ queue: 'video', waiting: 12, active: 3, delayed: 1, failed: 0, oldestWaitingMs: 65_000, perMinute: 40, slots: 8 }],
      workers: [{ id: 'h:1', queues: ['video', 'image'], concurrency: 4, busy: 3, started: Date.parse('2025-01-01T12:00:00Z'), heartbeat: Date.parse('2025-01-01T12:00:08Z'), done: { video: 7 }, rate: { video: 5, image: 1 } }],
      callbacks: { pending: 900, failing: 4, sampled: 500 },
    });
    expect(text).to.match(/^video +12 +3 +1 +0 +1m05s +40 +3\/8$/m);
    expect(text).to.match(/^h:1 +video,image +3\/8 +7 +6 +10s +2s ago$/m);
    expect(text).to.include('callbacks: 900 pending, 4 failing (of the 500 due soonest)');
  });
});
