import { expect } from 'chai';
import { request } from 'undici';
import { main } from '../../src/cli/main.js';
import { describe as describeRequest, formatEvent } from '../../src/cli/listen.js';
import { createSigner } from '../../src/delivery/sign.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { memoryIo, startCli, stopCli, type LiveCli, type MemoryIo } from './cli-helpers.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const READY = /Ready: listening on (http:\/\/127\.0\.0\.1:\d+)\//;

function signed(body: string, secret = SECRET): Record<string, string> {
  return createSigner(secret).headers('msg_test_1', Math.floor(Date.now() / 1000), body);
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const res = await request(url, { method: 'POST', body, headers });
  await res.body.dump();
  return res.statusCode;
}

/** Starts `listen` in-process; resolves with its URL once it is ready. */
async function listenInProcess(args: string[], env: Record<string, string> = {}): Promise<{ m: MemoryIo; url: string; done: Promise<unknown> }> {
  const m = memoryIo(env);
  const done = main(['listen', '--port', '0', ...args], m.io);
  const deadline = Date.now() + 5000;
  while (!READY.test(m.err())) {
    if (Date.now() > deadline) throw new Error(`listen did not start: ${m.err()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { m, url: READY.exec(m.err())?.[1] ?? '', done };
}

describe('taskhook listen', function () {
  describe('against a real stack (spawned binary)', function () {
    let redis: TestRedis;
    let stack: Stack;
    let cli: LiveCli;
    let url: string;

    before(async function () {
      redis = await startRedis();
      stack = await startStack({ redisUrl: redis.url, queues: ['debug'] });
      expect(stack.config.WEBHOOK_SECRET).to.equal(SECRET);
      cli = startCli(['listen', '--port', '0', '--secret', stack.config.WEBHOOK_SECRET]);
      const err = await cli.waitFor('stderr', (t) => READY.test(t));
      url = READY.exec(err)?.[1] ?? '';
    });

    after(async function () {
      if (cli) expect(await stopCli(cli.child)).to.equal(0);
      await stack?.close();
      await redis?.destroy();
    });

    it('prints a line with ✓ for a real callback, with the event, task id and latency', async function () {
      const r = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', task_data: { a: 1 }, callback_url: `${url}/hooks/taskhook` });
      expect(r.status).to.equal(202);
      const id = String(r.json.task_id);
      const out = await cli.waitFor('stdout', (t) => t.includes(id));
      const line = out.split('\n').find((l) => l.includes(id)) ?? '';
      expect(line).to.match(/^\d{2}:\d{2}:\d{2}\.\d{3} {2}task\.completed +[0-9a-f-]{36} +\d+ ms {2}✓$/);
      const task = await stack.waitForTask(id, (t) => (t.callback as { state: string }).state === 'delivered');
      expect((task.callback as { attempts: { status_code: number }[] }).attempts[0]?.status_code).to.equal(204);
    });

    it('answers 401 to a tampered request and prints ✗ with the reason', async function () {
      const body = JSON.stringify({ event: 'task.completed', task_id: 'tampered-1', completed_at: new Date().toISOString() });
      const headers = signed(body);
      const status = await post(`${url}/`, body.replace('tampered-1', 'tampered-2'), headers);
      expect(status).to.equal(401);
      const out = await cli.waitFor('stdout', (t) => t.includes('tampered-2'));
      const line = out.split('\n').find((l) => l.includes('tampered-2')) ?? '';
      expect(line).to.include('✗');
      expect(line).to.include('does not match the body');
      // And the untampered original passes.
      expect(await post(`${url}/`, body, headers)).to.equal(204);
      await cli.waitFor('stdout', (t) => /tampered-1 .*✓/.test(t));
    });
  });

  describe('in-process', function () {
    let receiver: Receiver;

    beforeEach(async function () {
      receiver = await startReceiver();
    });

    afterEach(async function () {
      await receiver.close();
    });

    it('--forward-to forwards the raw body and signature headers and answers with the target status', async function () {
      const { m, url, done } = await listenInProcess(['--secret', SECRET, '--forward-to', `${receiver.url}/app/webhook`]);
      receiver.script([202, 503]);
      const body = JSON.stringify({ event: 'task.failed', task_id: 'fwd-1', failed_at: new Date(Date.now() - 1500).toISOString() });
      const headers = signed(body);
      expect(await post(`${url}/x`, body, headers)).to.equal(202);
      const [got] = await receiver.waitFor(1);
      expect(got?.path).to.equal('/app/webhook');
      expect(got?.body).to.equal(body);
      for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'x-webhook-signature', 'content-type']) {
        expect(got?.headers[h], h).to.equal(headers[h]);
      }
      // The target's error status goes back to the sender (so taskhook retries as it would against the app).
      expect(await post(`${url}/x`, body, headers)).to.equal(503);
      // A bad signature is refused here and never forwarded.
      expect(await post(`${url}/x`, `${body} `, headers)).to.equal(401);
      m.interrupt();
      expect(await done).to.equal(0);
      expect(receiver.received).to.have.length(2);
      const lines = m.out().trim().split('\n');
      expect(lines).to.have.length(3);
      expect(lines[0]).to.match(/task\.failed +fwd-1 +\d{4} ms {2}✓ {2}→ 202$/);
      const latency = Number(/(\d+) ms/.exec(lines[0] ?? '')?.[1]);
      expect(latency).to.be.at.least(1500).and.below(60_000);
      expect(lines[1]).to.match(/✓ {2}→ 503$/);
      expect(lines[2]).to.include('✗');
    });

    it('forwarding to an unreachable app answers 502 and says why', async function () {
      const { m, url, done } = await listenInProcess(['--forward-to', 'http://127.0.0.1:1/']);
      expect(await post(url, '{"event":"task.completed","task_id":"t"}', { 'content-type': 'application/json' })).to.equal(502);
      m.interrupt();
      await done;
      expect(m.out()).to.match(/→ 502 \(ECONNREFUSED\)/);
    });

    it('without a secret accepts everything and shows ?; --json prints one JSON object per request', async function () {
      const { m, url, done } = await listenInProcess(['--json']);
      expect(m.err()).to.include('not checked');
      const ts = new Date(Date.now() - 250).toISOString();
      const body = JSON.stringify({ type: 'task.started', timestamp: ts, data: { task_id: 'sub-1', status: 'running' } });
      expect(await post(url, body, { 'content-type': 'application/json', 'webhook-id': 'msg_x' })).to.equal(204);
      expect(await post(url, 'not json', {})).to.equal(204);
      m.interrupt();
      await done;
      const [first, second] = m.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(first).to.include({ event: 'task.started', task_id: 'sub-1', webhook_id: 'msg_x', signature: 'unchecked' });
      expect(first?.latency_ms).to.be.a('number').and.at.least(250);
      expect(second).to.include({ event: null, task_id: null, latency_ms: null, signature: 'unchecked' });
    });

    it('takes the secret from WEBHOOK_SECRET and refuses a malformed one', async function () {
      const { m, url, done } = await listenInProcess([], { WEBHOOK_SECRET: SECRET });
      const body = '{"event":"task.completed","task_id":"env-1"}';
      expect(await post(url, body, signed(body))).to.equal(204);
      expect(await post(url, body, signed(body, 'whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=='))).to.equal(401);
      m.interrupt();
      await done;
      expect(m.out()).to.match(/env-1 .*✓\n.*env-1 .*✗/);

      const bad = memoryIo();
      expect(await main(['listen', '--port', '0', '--secret', 'whsec_***'], bad.io)).to.equal(2);
      expect(bad.err()).to.include('--secret');
    });

    it('refuses other methods with 405', async function () {
      const { m, url, done } = await listenInProcess([]);
      const res = await request(url, { method: 'GET' });
      await res.body.dump();
      expect(res.statusCode).to.equal(405);
      m.interrupt();
      await done;
      expect(m.out()).to.equal('');
    });

    it('answers 413 to a body over 1 MiB (not a reset connection), then closes it; 1 MiB exactly is accepted', async function () {
      const { m, url, done } = await listenInProcess([]);
      try {
        for (const size of [2 * 1_048_576, 1_048_577]) {
          const res = await request(url, { method: 'POST', body: Buffer.alloc(size, 0x61), headers: { 'content-type': 'application/json' } });
          expect(res.statusCode, `${size} bytes`).to.equal(413);
          expect(res.headers.connection).to.equal('close');
          expect(await res.body.text()).to.equal('Request body over 1048576 bytes.\n');
        }
        expect(await post(url, `"${'a'.repeat(1_048_574)}"`, { 'content-type': 'application/json' })).to.equal(204);
      } finally {
        m.interrupt();
        await done;
      }
    });
  });

  describe('describe / formatEvent', function () {
    it('reads latency from completed_at, failed_at, cancelled_at or timestamp', function () {
      const now = new Date('2025-01-01T12:00:01.000Z');
      const e = describeRequest(Buffer.from('{"event":"task.cancelled","task_id":"t1","cancelled_at":"2025-01-01T12:00:00.250Z"}'), {}, undefined, now);
      expect(e).to.include({ event: 'task.cancelled', task_id: 't1', latency_ms: 750, signature: 'unchecked' });
      expect(formatEvent(e)).to.equal(`12:00:01.000  task.cancelled    ${'t1'.padEnd(36)}     750 ms  ?`);
      const sub = describeRequest(Buffer.from('{"type":"task.progress","timestamp":"2025-01-01T12:00:00.000Z","data":{"task_id":"t2"}}'), {}, undefined, now);
      expect(sub).to.include({ event: 'task.progress', task_id: 't2', latency_ms: 1000 });
    });
  });
});
