import { expect } from 'chai';
import { request } from 'undici';
import { main, COMMANDS } from '../../src/cli/main.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { stackEnv } from '../helpers/stack.js';
import { memoryIo, runCli, startCli, stopCli } from './cli-helpers.js';

describe('taskhook (main)', function () {
  it('--help lists every command (spawned binary, from another directory)', async function () {
    const r = await runCli(['--help']);
    expect(r.code).to.equal(0);
    for (const name of ['api', 'worker', 'all', 'submit', 'listen', 'top']) expect(r.stdout).to.match(new RegExp(`^ {2}${name}\\b`, 'm'));
    expect(Object.keys(COMMANDS).sort()).to.deep.equal(['all', 'api', 'listen', 'submit', 'top', 'worker']);
  });

  it('every command has --help (and -h), printed on stdout with exit 0', async function () {
    for (const name of Object.keys(COMMANDS)) {
      for (const flag of ['--help', '-h']) {
        const m = memoryIo();
        expect(await main([name, flag], m.io), `${name} ${flag}`).to.equal(0);
        expect(m.out()).to.match(new RegExp(`^Usage: taskhook ${name}\\b`));
        expect(m.err()).to.equal('');
      }
      const m = memoryIo();
      expect(await main(['help', name], m.io)).to.equal(0);
      expect(m.out()).to.match(new RegExp(`^Usage: taskhook ${name}\\b`));
    }
  });

  it('no command or an unknown one: usage on stderr, exit 2', async function () {
    const none = memoryIo();
    expect(await main([], none.io)).to.equal(2);
    expect(none.err()).to.match(/^Usage: taskhook <command>/);
    const r = await runCli(['frobnicate']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('unknown command "frobnicate"');
  });

  it('--version prints the package version', async function () {
    const m = memoryIo();
    expect(await main(['--version'], m.io)).to.equal(0);
    expect(m.out()).to.match(/^taskhook \d+\.\d+\.\d+/);
  });
});

describe('taskhook api | worker | all (spawned, real Redis)', function () {
  let redis: TestRedis;
  const env = (): Record<string, string> => ({ ...stackEnv(redis.url), LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '500' });

  before(async function () {
    redis = await startRedis();
  });

  after(async function () {
    await redis?.destroy();
  });

  it('taskhook api serves the API and drains on SIGINT', async function () {
    const cli = startCli(['api'], env());
    const out = await cli.waitFor('stdout', (t) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(t));
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1] ?? '';
    const res = await request(`${url}/healthz`);
    expect(res.statusCode).to.equal(200);
    expect(await res.body.json()).to.deep.equal({ status: 'ok' });
    expect(await stopCli(cli.child)).to.equal(0);
  });

  it('taskhook worker --queues/--concurrency starts a worker that heartbeats', async function () {
    const cli = startCli(['worker', '--queues', 'debug', '--concurrency', '3'], env());
    await cli.waitFor('stdout', (t) => t.includes('worker ready'));
    expect(cli.stdout()).to.match(/"queues":\["debug"\]/);
    expect(cli.stdout()).to.match(/"concurrency":3/);
    const c = redis.client();
    try {
      const keys = await c.keys('th:workers:*');
      expect(keys).to.have.length(1);
      expect(await c.hmget(keys[0] ?? '', 'queues', 'concurrency', 'busy')).to.deep.equal(['debug', '3', '0']);
      expect(await stopCli(cli.child)).to.equal(0);
      // Deleted on a clean shutdown.
      expect(await c.keys('th:workers:*')).to.deep.equal([]);
    } finally {
      c.disconnect();
    }
  });

  it('taskhook worker: a bad --queues or --concurrency is a usage error (exit 2), reported without connecting to Redis', async function () {
    // No Redis answers here: a command that tried to connect would say so after its connect timeout.
    const noRedis = { ...env(), REDIS_URL: 'redis://127.0.0.1:1' };
    for (const [args, message] of [
      [['--queues', 'nope'], '--queues: Unknown queue(s): nope. Known queues: video, image, audio, debug.'],
      [['--queues', ','], '--queues: names no queue'],
      [['--concurrency', 'abc'], '--concurrency must be a whole number of jobs per queue, got "abc"'],
      [['--concurrency', '0'], 'got "0" (Too small: expected number to be >=1)'],
      [['--concurrency', ''], 'got "" (empty)'],
    ] as const) {
      const m = memoryIo(noRedis);
      const t0 = Date.now();
      expect(await main(['worker', ...args], m.io), args.join(' ')).to.equal(2);
      expect(Date.now() - t0).to.be.below(1000);
      expect(m.err()).to.include(message);
      expect(m.err()).to.include('Run "taskhook worker --help" for usage.');
      expect(m.err()).not.to.include('No Redis answered');
    }
    // The spawned binary exits with it too.
    const r = await runCli(['worker', '--concurrency', 'abc'], noRedis);
    expect(r.code).to.equal(2);
  });

  it('taskhook worker: an unknown queue in WORKER_QUEUES is a configuration error (exit 1), reported without connecting to Redis', async function () {
    const m = memoryIo({ ...env(), REDIS_URL: 'redis://127.0.0.1:1', WORKER_QUEUES: 'debug,nope' });
    expect(await main(['worker'], m.io)).to.equal(1);
    expect(m.err()).to.equal('taskhook: WORKER_QUEUES: Unknown queue(s): nope. Known queues: video, image, audio, debug.\n');
  });

  it('taskhook all runs API and worker in one process', async function () {
    const cli = startCli(['all'], { ...env(), WORKER_QUEUES: 'debug' });
    const out = await cli.waitFor('stdout', (t) => t.includes('taskhook is up'));
    const url = /taskhook is up: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
    const r = await runCli(['submit', 'debug.echo', '--data', '{"x":1}', '--wait', '--interval', '50'], {
      TASKHOOK_URL: url,
      API_KEYS: 'sha256:0000000000000000000000000000000000000000000000000000000000000000,test-key',
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ x: 1 });
    expect(await stopCli(cli.child)).to.equal(0);
  });
});
