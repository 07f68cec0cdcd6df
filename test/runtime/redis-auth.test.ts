/**
 * Redis URLs with credentials: the password is never printed, and a Redis
 * that refuses the credentials is reported as that (not "No Redis answered"),
 * without a local Redis started in its place and without a stack trace.
 */
import { expect } from 'chai';
import { connectRedis } from '../../src/runtime/redis.js';
import { DependencyError } from '../../src/errors.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.js';
import { killRedisOn, redisGoneFrom, redisServersOn, spawnBin, type Started } from './start-helpers.js';

async function refusal(url: string): Promise<DependencyError> {
  try {
    const c = await connectRedis(url);
    c.disconnect();
  } catch (err) {
    if (err instanceof DependencyError) return err;
    throw err;
  }
  throw new Error(`connected to ${url}`);
}

describe('runtime: Redis credentials in messages', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const runs: Started[] = [];

  before(async () => {
    redis = await startRedis();
    // Set after start: the helper's readiness check has no password.
    const admin = redis.client();
    await admin.config('SET', 'requirepass', 'right-one');
    admin.disconnect();
  });
  after(async () => {
    for (const r of runs.splice(0)) r.cleanup();
    await redis?.destroy();
  });

  it('a wrong password is an auth failure whose message hides it', async () => {
    const err = await refusal(`redis://:wrong-pw@127.0.0.1:${redis.port}`);
    expect(err.code).to.equal('redis_auth_failed');
    expect(err.message).to.include(`redis://:***@127.0.0.1:${redis.port}`).and.include('WRONGPASS');
    expect(err.message).to.not.include('wrong-pw');
    expect(err.message).to.not.include('No Redis answered');
  });

  it('no password where one is required is an auth failure that says so', async () => {
    const err = await refusal(`redis://127.0.0.1:${redis.port}`);
    expect(err.code).to.equal('redis_auth_failed');
    expect(err.message).to.include('requires a password');
  });

  it('"No Redis answered" hides the password too', async () => {
    const port = await freePort();
    const err = await refusal(`redis://app:hunter2@127.0.0.1:${port}/0`);
    expect(err.code).to.equal('redis_unavailable');
    expect(err.message).to.include(`No Redis answered at redis://app:***@127.0.0.1:${port}/0.`);
    expect(err.message).to.not.include('hunter2');
  });

  it('npm start with a wrong password: one clear line, exit 1, no local Redis started on that port', async () => {
    const run = spawnBin('start.ts', { REDIS_URL: `redis://:wrong-pw@127.0.0.1:${redis.port}`, PORT: String(await freePort()) });
    runs.push(run);
    const { code } = await run.exited();
    const out = run.output();
    expect(code, out).to.equal(1);
    expect(out).to.include(`taskhook: Redis at redis://:***@127.0.0.1:${redis.port} refused the user name or password in REDIS_URL`);
    expect(out).to.not.include('wrong-pw');
    expect(out).to.not.match(/^\s+at /m); // no stack trace
    expect(out).to.not.include('starting a local redis-server');
    expect(redisServersOn(redis.port)).to.have.length(1); // the test's own
  });

  it('npm start starting its own Redis for a URL with a password does not print the password', async () => {
    const port = await freePort();
    const run = spawnBin('start.ts', { REDIS_URL: `redis://:local-pw@127.0.0.1:${port}`, PORT: String(await freePort()) });
    runs.push(run);
    try {
      await run.waitFor((t) => t.includes('taskhook is up'));
      expect(run.output()).to.include(`no Redis at redis://:***@127.0.0.1:${port}`);
      expect(run.output()).to.not.include('local-pw');
      run.child.kill('SIGTERM');
      expect((await run.exited()).code).to.equal(0);
      expect(await redisGoneFrom(port)).to.deep.equal([]);
    } finally {
      killRedisOn(port);
    }
  });
});
