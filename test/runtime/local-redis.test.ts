/**
 * `npm start`'s private redis-server, through real processes: spawned
 * `node --import tsx src/bin/start.ts` with REDIS_URL on a free port (so it
 * starts its own), and after every scenario no redis-server is left on it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { deathSignalAvailable } from '../../src/media/death-signal.js';
import { RECOMMENDED_HASH_MAX_VALUE } from '../../src/runtime/redis.js';
import { freePort } from '../helpers/redis.js';
import { killRedisOn, redisGoneFrom, redisServersOn, spawnBin, type Started } from './start-helpers.js';

/** stdout + stderr carry no stack trace. */
const NO_STACK = /^\s+at /m;

async function occupy(port: number, host: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

async function ipv6Loopback(): Promise<boolean> {
  try {
    (await occupy(0, '::1')).close();
    return true;
  } catch {
    return false;
  }
}

describe('runtime: npm start and its private Redis', function () {
  this.timeout(60_000);
  let redisPort: number;
  let apiPort: number;
  const runs: Started[] = [];
  const cleanups: (() => void)[] = [];

  /** `npm start` that will have to start its own Redis on `redisPort`. */
  const start = (env: Record<string, string> = {}): Started => {
    const run = spawnBin('start.ts', { REDIS_URL: `redis://127.0.0.1:${redisPort}`, PORT: String(apiPort), SHUTDOWN_GRACE_MS: '1500', ...env });
    runs.push(run);
    return run;
  };

  beforeEach(async () => {
    redisPort = await freePort();
    apiPort = await freePort();
  });
  afterEach(() => {
    for (const r of runs.splice(0)) r.cleanup();
    for (const c of cleanups.splice(0)) c();
    killRedisOn(redisPort);
  });

  it('a start-up failure after its Redis started (PORT in use) stops that Redis and says so in one line', async () => {
    const taken = await occupy(apiPort, '127.0.0.1');
    cleanups.push(() => taken.close());
    const run = start();
    const { code } = await run.exited();
    const out = run.output();
    expect(code, out).to.equal(1);
    expect(out).to.include('starting a local redis-server');
    expect(out).to.include(`taskhook: Cannot listen on PORT=${apiPort} (HOST=127.0.0.1): something else (another taskhook?) already listens there.`);
    expect(out).to.not.match(NO_STACK);
    expect(await redisGoneFrom(redisPort)).to.deep.equal([]);
  });

  it('something that is not Redis on its port: one line with what redis-server said, exit 1', async () => {
    const taken = await occupy(redisPort, '127.0.0.1'); // accepts, never answers
    cleanups.push(() => taken.close());
    const run = start();
    const { code } = await run.exited();
    const out = run.output();
    expect(code, out).to.equal(1);
    expect(out).to.include(`taskhook: Could not start a local redis-server for redis://127.0.0.1:${redisPort}: it exited with code 1`);
    expect(out).to.include('Address already in use');
    expect(out).to.not.match(NO_STACK);
  });

  it('SIGTERM while its Redis is starting: exits non-zero and leaves no Redis behind', async () => {
    // A redis-server that takes a second to start (as one replaying a large AOF does).
    const bin = mkdtempSync(join(tmpdir(), 'taskhook-slow-redis-'));
    cleanups.push(() => rmSync(bin, { recursive: true, force: true }));
    const real = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'redis-server'), `#!/bin/sh\n[ "$1" = "--version" ] || sleep 1\nexec ${real} "$@"\n`);
    chmodSync(join(bin, 'redis-server'), 0o755);
    const run = start({ PATH: `${bin}:${process.env.PATH ?? ''}` });
    await run.waitFor((t) => t.includes('starting a local redis-server'));
    await sleep(300); // spawned, not answering yet
    run.child.kill('SIGTERM');
    const { code } = await run.exited();
    expect(code, run.output()).to.equal(143);
    expect(run.output()).to.not.include('taskhook is up');
    // The slow one would have exec'd the real redis-server a second after it was spawned.
    await sleep(1500);
    expect(redisServersOn(redisPort)).to.deep.equal([]);
  });

  it('Ctrl-C (SIGINT to the process group): the drain hands a running task back with Redis up, then stops Redis', async () => {
    const run = start();
    await run.waitFor((t) => t.includes('taskhook is up'));
    const base = `http://127.0.0.1:${apiPort}`;
    const auth = { 'x-api-key': 'dev-key' };
    const res = await request(`${base}/api/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ task_type: 'debug.sleep', task_data: { ms: 60_000 } }),
    });
    expect(res.statusCode).to.equal(202);
    const { task_id: id } = (await res.body.json()) as { task_id: string };
    // It runs with the hash encoding docs/operations.md recommends, so start-up has no hint to give.
    const direct = new Redis(`redis://127.0.0.1:${redisPort}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await direct.connect();
      expect(await direct.config('GET', 'hash-max-listpack-value')).to.deep.equal(['hash-max-listpack-value', String(RECOMMENDED_HASH_MAX_VALUE)]);
    } finally {
      direct.disconnect();
    }
    expect(run.output()).to.not.include('hash-max-listpack-value is');
    for (let status = ''; status !== 'running'; await sleep(50)) {
      const r = await request(`${base}/api/v1/tasks/${id}`, { headers: auth });
      status = ((await r.body.json()) as { status: string }).status;
    }
    const pid = run.child.pid ?? 0;
    const sent = Date.now();
    process.kill(-pid, 'SIGINT'); // the whole group, as a terminal does
    const { code, ms } = await run.exited(sent);
    const out = run.output();
    expect(code, out).to.equal(0);
    expect(out).to.include('task handed back at shutdown');
    expect(out).to.match(/SIGINT: drained and stopped in \d+ ms/);
    expect(out).to.not.include('ECONNREFUSED');
    expect(ms).to.be.below(6_000); // the grace (1.5 s) and the rest of the drain; it took ~20 s of reconnects
    expect(await redisGoneFrom(redisPort)).to.deep.equal([]);
  });

  it('a second signal (exit at once) still takes its Redis down', async () => {
    const run = start({ SHUTDOWN_GRACE_MS: '20000' });
    await run.waitFor((t) => t.includes('taskhook is up'));
    const res = await request(`http://127.0.0.1:${apiPort}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'x-api-key': 'dev-key', 'content-type': 'application/json' },
      body: JSON.stringify({ task_type: 'debug.sleep', task_data: { ms: 60_000 } }),
    });
    expect(res.statusCode).to.equal(202);
    await res.body.dump();
    await sleep(500);
    run.child.kill('SIGTERM'); // drains: waits for the task
    await run.waitFor((t) => t.includes('draining'));
    run.child.kill('SIGTERM');
    expect((await run.exited()).code).to.equal(143);
    expect(await redisGoneFrom(redisPort)).to.deep.equal([]);
  });

  it('SIGKILL: the kernel takes its Redis down too (Linux, setpriv)', async function () {
    if (!(await deathSignalAvailable())) this.skip();
    const run = start();
    await run.waitFor((t) => t.includes('taskhook is up'));
    expect(redisServersOn(redisPort)).to.have.length(1);
    run.child.kill('SIGKILL');
    await run.exited();
    expect(await redisGoneFrom(redisPort)).to.deep.equal([]);
  });

  it('REDIS_URL on [::1]: its Redis listens there', async function () {
    if (!(await ipv6Loopback())) this.skip();
    const run = start({ REDIS_URL: `redis://[::1]:${redisPort}` });
    await run.waitFor((t) => t.includes('taskhook is up'));
    run.child.kill('SIGTERM');
    expect((await run.exited()).code).to.equal(0);
    expect(await redisGoneFrom(redisPort)).to.deep.equal([]);
  });
});
