/**
 * Expected start-up errors of the npm scripts (src/bin) are one line a person
 * can act on, with the right exit code and no stack trace.
 */
import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.js';
import { spawnBin, type Started } from './start-helpers.js';

const NO_STACK = /^\s+at /m;

async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('runtime: start-up errors of npm run worker / api', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const runs: Started[] = [];
  before(async () => {
    redis = await startRedis();
  });
  afterEach(() => {
    for (const r of runs.splice(0)) r.cleanup();
  });
  after(() => redis?.destroy());

  const run = (script: 'worker.ts' | 'api.ts', env: Record<string, string>, args: string[] = []): Started => {
    const r = spawnBin(script, { REDIS_URL: redis.url, ...env }, args);
    runs.push(r);
    return r;
  };

  it('npm run worker -- --queue x: what is wrong and the usage, exit 2', async () => {
    const r = run('worker.ts', {}, ['--queue', 'x']);
    expect((await r.exited()).code).to.equal(2);
    expect(r.output()).to.match(/^npm run worker: Unknown option '--queue'/m);
    expect(r.output()).to.include('Usage: npm run worker -- [--queues');
    expect(r.output()).to.not.match(NO_STACK);
  });

  it('npm run worker with METRICS_PORT in use: one line naming METRICS_PORT, exit 1', async () => {
    const port = await freePort();
    const taken = await occupy(port);
    try {
      const r = run('worker.ts', { METRICS_PORT: String(port) });
      expect((await r.exited()).code).to.equal(1);
      expect(r.output()).to.include(`taskhook: Cannot listen on METRICS_PORT=${port} (HOST=127.0.0.1): something else (another taskhook?) already listens there. Stop it or set METRICS_PORT to a free port.`);
      expect(r.output()).to.not.match(NO_STACK);
    } finally {
      taken.close();
    }
  });

  it('npm run api with PORT in use: one line naming PORT, exit 1', async () => {
    const port = await freePort();
    const taken = await occupy(port);
    try {
      const r = run('api.ts', { PORT: String(port) });
      expect((await r.exited()).code).to.equal(1);
      expect(r.output()).to.include(`taskhook: Cannot listen on PORT=${port} (HOST=127.0.0.1)`);
      expect(r.output()).to.not.match(NO_STACK);
    } finally {
      taken.close();
    }
  });
});
