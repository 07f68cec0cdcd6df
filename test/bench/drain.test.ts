/**
 * The bench's drain phase (the worker alone working through queued tasks),
 * through real processes: a private redis-server, the API and a worker from
 * src/ (under tsx), the bench's receiver and load generator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { drainPhase, type DrainResult } from '../../bench/lib/drain.js';
import { createProcessGroup } from '../../bench/lib/procs.js';
import { freePort, startRedisServer } from '../../bench/lib/redis-server.js';
import { startReceiver } from '../../bench/lib/receiver.js';
import { startLoadGenerator } from '../../bench/lib/loadgen.js';
import { productEnv } from '../../bench/lib/taskhook.js';

const bin = (name: string): string => fileURLToPath(new URL(`../../src/bin/${name}.ts`, import.meta.url));

describe('bench: drain phase (the worker alone)', function () {
  this.timeout(90_000);
  const group = createProcessGroup();
  const work = mkdtempSync(join(tmpdir(), 'taskhook-drain-test-'));
  let result: DrainResult;
  let received: number;

  before(async () => {
    const redis = await startRedisServer({ group, dir: join(work, 'redis') });
    const receiver = await startReceiver({ group, logDir: work });
    const load = await startLoadGenerator(group, work);
    const env = productEnv(redis.url, { WORKER_CONCURRENCY: '50', WORKER_QUEUES: 'debug', PORT: String(await freePort()) });
    result = await drainPhase({ group, logDir: work, name: 'drain', redis, receiver, load, env, tasks: 400, apiScript: bin('api'), workerScript: bin('worker') });
    received = (await receiver.count()).records;
  });

  after(async () => {
    await group.stopAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('queues every task before the worker starts, and counts those called back after the first', () => {
    expect(received).to.equal(400);
    expect(result.tasks).to.be.within(1, 399);
  });

  it("reads the worker's CPU per task, which a no-op task keeps well under 10 ms", () => {
    expect(result.cpuMsPerTask.worker).to.be.above(0).and.below(10);
    expect(result.wallMsPerTask).to.be.above(0);
    expect(result.cpuMsPerTask.redis).to.be.at.least(0);
  });
});
