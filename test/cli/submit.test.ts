import { expect } from 'chai';
import { main } from '../../src/cli/main.js';
import { clientSettings } from '../../src/cli/io.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startStack, API_KEY, type Stack } from '../helpers/stack.js';
import { memoryIo, runCli } from './cli-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('taskhook submit', function () {
  let redis: TestRedis;
  let stack: Stack;

  before(async function () {
    redis = await startRedis();
    stack = await startStack({ redisUrl: redis.url, queues: ['debug'] });
  });

  after(async function () {
    await stack?.close();
    await redis?.destroy();
  });

  const flags = (): string[] => ['--url', stack.url, '--key', API_KEY];

  it('prints just the task id on stdout (spawned binary, settings from TASKHOOK_URL / TASKHOOK_API_KEY)', async function () {
    const r = await runCli(['submit', 'debug.echo', '--data', '{"hello":"world"}', '--metadata', '{"order":7}', '--project', 'p1'], {
      TASKHOOK_URL: stack.url,
      TASKHOOK_API_KEY: API_KEY,
    });
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^[0-9a-f-]{36}\n$/);
    const id = r.stdout.trim();
    expect(id).to.match(UUID);
    const task = await stack.waitForTask(id, (t) => t.status === 'completed');
    expect(task.result).to.deep.equal({ hello: 'world' });
    expect(task.metadata).to.deep.equal({ order: 7 });
    expect(task.project_id).to.equal('p1');
  });

  it('--wait prints the result as JSON on stdout and exits 0 (spawned binary)', async function () {
    const r = await runCli(['submit', 'debug.sleep', '--data', '{"ms":300}', '--wait', '--interval', '50', ...flags()]);
    expect(r.code, r.stderr).to.equal(0);
    const result = JSON.parse(r.stdout) as { slept_ms: number };
    expect(result.slept_ms).to.be.at.least(300);
    // Not a terminal: plain progress lines on stderr, no bar, no escape codes.
    expect(r.stderr).to.match(/task [0-9a-f-]{36} queued/);
    expect(r.stderr).to.match(/^running \d+%$/m);
    expect(r.stderr).to.match(/completed in \d+\.\d{3} s/);
    expect(r.stderr).not.to.include('\x1b[');
  });

  it('--wait on a failing task prints the error JSON and exits 1', async function () {
    const m = memoryIo();
    const code = await main(['submit', 'debug.fail', '--data', '{"message":"boom","code":"bad_thing"}', '--wait', '--interval', '50', ...flags()], m.io);
    expect(code).to.equal(1);
    const err = JSON.parse(m.out()) as { message: string; error_type: string };
    expect(err.message).to.equal('boom');
    expect(err.error_type).to.equal('bad_thing');
    expect(m.err()).to.include('failed');
  });

  it('draws a progress bar on stderr when it is a terminal', async function () {
    const m = memoryIo({}, true);
    const code = await main(['submit', 'debug.sleep', '--data', '{"ms":200}', '--wait', '--interval', '30', ...flags()], m.io);
    expect(code).to.equal(0);
    expect(m.err()).to.match(/\r\x1b\[K\[#*-*\] +\d+% (queued|running|completed)/);
    expect(m.err()).to.include('100% completed');
    expect(JSON.parse(m.out())).to.have.property('slept_ms');
  });

  it('prints the problem (title, code, field errors) on stderr and exits 1 for an unknown task type', async function () {
    const m = memoryIo();
    const code = await main(['submit', 'nope.nothing', ...flags()], m.io);
    expect(code).to.equal(1);
    expect(m.out()).to.equal('');
    expect(m.err()).to.match(/^taskhook: Bad Request \(HTTP 400 validation_failed\)/);
    expect(m.err()).to.match(/^ {2}task_type: /m);
    expect(m.err()).to.include('known task types: ');
    expect(m.err()).to.include('debug.echo');
  });

  it('reports invalid task_data field by field (spawned binary)', async function () {
    const r = await runCli(['submit', 'debug.sleep', '--data', '{"ms":"soon"}', ...flags()]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/task_data\.ms: /);
  });

  it('a wrong API key is an error answer, exit 1', async function () {
    const m = memoryIo();
    const code = await main(['submit', 'debug.echo', '--url', stack.url, '--key', 'wrong'], m.io);
    expect(code).to.equal(1);
    expect(m.err()).to.include('Unauthorized (HTTP 401 unauthorized)');
  });

  it('bad flags are usage errors: exit 2 and nothing sent', async function () {
    for (const argv of [['submit'], ['submit', 'debug.echo', '--data', '[1]'], ['submit', 'debug.echo', '--data', '{oops'], ['submit', 'debug.echo', '--nope']]) {
      const m = memoryIo();
      const code = await main([...argv, ...flags()], m.io);
      expect(code, argv.join(' ')).to.equal(2);
      expect(m.err()).to.include('taskhook submit --help');
      expect(m.out()).to.equal('');
    }
  });

  it('an unreachable API is reported plainly, exit 1', async function () {
    const m = memoryIo();
    const code = await main(['submit', 'debug.echo', '--url', 'http://127.0.0.1:1', '--key', 'k'], m.io);
    expect(code).to.equal(1);
    expect(m.err()).to.match(/cannot reach the taskhook API at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('clientSettings', function () {
  it('prefers flags, then TASKHOOK_*, then the first plain API key, then the defaults', function () {
    expect(clientSettings({}, {})).to.deep.equal({ url: 'http://localhost:3000', apiKey: 'dev-key' });
    expect(clientSettings({ API_KEYS: 'sha256:abc, k1 ,k2' }, {})).to.deep.equal({ url: 'http://localhost:3000', apiKey: 'k1' });
    expect(clientSettings({ API_KEYS: 'k1', TASKHOOK_API_KEY: 'tk', TASKHOOK_URL: 'http://h:1/' }, {})).to.deep.equal({ url: 'http://h:1', apiKey: 'tk' });
    expect(clientSettings({ TASKHOOK_API_KEY: 'tk', TASKHOOK_URL: 'http://h:1' }, { url: 'http://x:2', key: 'fk' })).to.deep.equal({ url: 'http://x:2', apiKey: 'fk' });
    expect(() => clientSettings({ TASKHOOK_URL: 'ftp://h' }, {})).to.throw(/TASKHOOK_URL/);
  });
});
