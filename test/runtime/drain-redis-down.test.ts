/**
 * A drain does not wait for Redis (docs/operations.md, Shutdown): with Redis
 * stopped, a real worker process gives its running task the grace and exits,
 * and a real API process drops a request stuck on Redis and exits, instead of
 * waiting out bee-queue's close timeouts, the heartbeat and retention bounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { request } from 'undici';
import { API_KEY, spawnWorker, stackEnv, startStack, waitForOutput, type Stack } from '../helpers/stack.js';

const ENV = { WORKER_QUEUES: 'debug', STALL_INTERVAL_MS: '400' };

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** SIGTERM, then how long the process took to exit and with what code (gives up after 40 s). */
async function drain(child: ChildProcess): Promise<{ ms: number; code: number | null | 'still running' }> {
  const started = Date.now();
  child.kill('SIGTERM');
  const code = await Promise.race([exited(child), sleep(40_000).then(() => 'still running' as const)]);
  return { ms: Date.now() - started, code };
}

/** Waits until Redis is really gone for the process's clients (the stop is a SIGTERM). */
async function stopRedis(redis: TestRedis): Promise<void> {
  await redis.stop();
  await sleep(300);
}

describe('runtime: draining while Redis is down', function () {
  this.timeout(90_000);
  let redis: TestRedis;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await redis.destroy();
  });

  it('a worker with a task running exits right after its grace', async () => {
    const stack: Stack = await startStack({ redisUrl: redis.url, worker: false, env: ENV });
    const w = spawnWorker(redis.url, { ...ENV, SHUTDOWN_GRACE_MS: '1000' });
    children.push(w);
    try {
      await waitForOutput(w, 'worker ready');
      const res = await stack.post('/api/v1/tasks', { task_type: 'debug.sleep', task_data: { ms: 60_000 } });
      await stack.waitForTask(String(res.json.task_id), (t) => t.status === 'running');
    } finally {
      await stack.close();
    }
    await stopRedis(redis);
    const r = await drain(w);
    expect(r.code).to.equal(0);
    // Took 7 s: bee-queue's close (grace + 3 s), the heartbeat's delete (1 s), the retention wait (2 s).
    expect(r.ms).to.be.below(2_500);
  });

  it('an API process drops a request stuck on Redis and exits without waiting out its grace', async () => {
    const api = spawn(process.execPath, ['--import', 'tsx', 'src/bin/api.ts'], {
      env: { ...process.env, ...stackEnv(redis.url, { ...ENV, SHUTDOWN_GRACE_MS: '5000' }), NODE_ENV: 'test', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(api);
    let out = '';
    api.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    await waitForOutput(api, 'api listening');
    // A submit gives the API its bee-queue producer (made on first use), whose close waited for Redis too.
    const url = /"url":"(http:[^"]+)"/.exec(out)?.[1] ?? '';
    const res = await request(`${url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ task_type: 'debug.echo', task_data: {} }),
    });
    expect(res.statusCode).to.equal(202);
    const { task_id: id } = (await res.body.json()) as { task_id: string };
    await stopRedis(redis);
    // A request that waits for Redis: it can never finish, and must not hold the drain past the grace.
    const pending = request(`${url}/api/v1/tasks/${id}`, { headers: { 'x-api-key': API_KEY } }).catch(() => null);
    await sleep(100);
    const r = await drain(api);
    await pending;
    expect(r.code).to.equal(0);
    // Took the grace (5 s) for the stuck request, then up to 5 s for the bee-queue producer's close.
    expect(r.ms).to.be.below(2_500);
  });
});
