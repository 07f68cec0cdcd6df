/**
 * The SSRF guard through the real path. With a production-like egress policy
 * (empty allowlist), internal callback URLs are refused at submit; and a
 * callback that passed submit under one policy but is blocked when it is
 * delivered (a worker with the empty allowlist, by IP literal and by a name
 * that resolves to loopback) is recorded as a `blocked` attempt with its
 * reason, never retried, and nothing reaches the receiver.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { storedAttempts } from '../helpers/attempts.js';
import { startStack, type Stack } from '../helpers/stack.js';

/** Parses as an empty CALLBACK_ALLOWLIST (an empty string would mean "unset", i.e. the dev default). */
const NO_ALLOWLIST = { CALLBACK_ALLOWLIST: ' ', RATE_LIMIT_PER_MIN: '0' };

interface Issue {
  field: string;
  message: string;
}

describe('e2e: SSRF guard', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let receiver: Receiver;

  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
    await redis?.destroy();
  });

  describe('at submit, with an empty allowlist', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ redisUrl: redis.url, env: NO_ALLOWLIST, worker: false });
    });
    after(async () => {
      await stack?.close();
    });

    it('refuses loopback, metadata and disguised addresses with 400 naming callback_url', async () => {
      expect(stack.config.CALLBACK_ALLOWLIST).to.deep.equal([]);
      const cases: [string, RegExp][] = [
        [`http://127.0.0.1:${receiver.port}/`, /127\.0\.0\.1 is loopback/],
        [`http://[::1]:${receiver.port}/`, /::1 is loopback/],
        ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a cloud metadata/],
        ['http://0x7f.1/', /127\.0\.0\.1 is loopback/],
        [`http://localhost:${receiver.port}/`, /localhost resolves to a blocked address: 127\.0\.0\.1 is loopback/],
      ];
      // Twice: the second round is answered from the API's verdict cache (CALLBACK_CHECK_CACHE_MS).
      for (const [url, reason] of [...cases, ...cases]) {
        const r = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: url });
        expect(r.status, url).to.equal(400);
        expect(String(r.headers['content-type'])).to.match(/^application\/problem\+json/);
        const issues = r.json.errors as Issue[];
        expect(issues.map((i) => i.field), url).to.deep.equal(['callback_url']);
        expect(issues[0]?.message, url).to.match(reason);
      }
      // A batch names the element, and queues nothing.
      const b = await stack.post('/api/v1/tasks/batch', {
        tasks: [{ task_type: 'debug.echo' }, { task_type: 'debug.echo', callback_url: 'http://0x7f.1/' }],
      });
      expect(b.status).to.equal(400);
      expect((b.json.errors as Issue[]).map((i) => i.field)).to.deep.equal(['tasks.1.callback_url']);

      expect(await stack.services.redis.keys(`${stack.services.keys.prefix}:task:*`)).to.deep.equal([]);
      expect(receiver.received).to.have.length(0);
    });
  });

  describe('at delivery, when the policy has changed since submit', () => {
    let submitter: Stack;
    let deliverer: Stack | null = null;
    before(async () => {
      // Accepts loopback (the test stack's allowlist), but runs no worker.
      submitter = await startStack({ redisUrl: redis.url, env: { RATE_LIMIT_PER_MIN: '0' }, worker: false });
    });
    after(async () => {
      await deliverer?.close();
      await submitter?.close();
    });

    it('records a blocked attempt with the reason, does not retry, and sends nothing', async () => {
      const urls = [`${receiver.url}/literal?token=s3cret`, `http://localhost:${receiver.port}/by-name`];
      const ids: string[] = [];
      for (const url of urls) {
        const r = await submitter.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: url });
        expect(r.status, JSON.stringify(r.json)).to.equal(202);
        ids.push(String(r.json.task_id));
      }
      // A worker whose egress policy has no allowlist, and would retry anything retryable.
      deliverer = await startStack({
        redisUrl: redis.url,
        env: { ...NO_ALLOWLIST, CALLBACK_MAX_RETRIES: '3', CALLBACK_BACKOFF_MS: '100' },
      });
      const reasons = [/^Destination blocked: 127\.0\.0\.1 is loopback$/, /^Destination blocked: localhost resolves to a blocked address: (127\.0\.0\.1|::1) is loopback$/];
      for (const [i, id] of ids.entries()) {
        const task = await submitter.waitForTask(id, (t) => (t.callback as { state: string }).state === 'failed');
        expect(task.status).to.equal('completed');
        const cb = task.callback as { attempts: { status_code: number | null; error: string | null }[] };
        expect(cb.attempts).to.have.length(1);
        expect(cb.attempts[0]?.status_code).to.equal(null);
        expect(cb.attempts[0]?.error).to.match(reasons[i] as RegExp);
        expect(cb.attempts[0]?.error).to.not.include('s3cret');
      }
      // Several backoffs later: still one attempt each, nothing due, nothing received.
      await sleep(800);
      const { redis: r, keys } = submitter.services;
      for (const id of ids) {
        const dlv = await r.hget(keys.task(id), 'dlv');
        const attempts = (await storedAttempts(r, keys, dlv as string)).map((a) => JSON.parse(a) as Record<string, unknown>);
        expect(attempts).to.have.length(1);
        expect(attempts[0]).to.include({ n: 1, outcome: 'blocked', status_code: null });
        expect(await r.hget(keys.delivery(dlv as string), 'state')).to.equal('failed');
        // No response data: the attempt holds only what the log says.
        expect(Object.keys(attempts[0] ?? {}).sort()).to.deep.equal(['at', 'duration_ms', 'error', 'n', 'outcome', 'status_code']);
      }
      expect(await r.zcard(keys.due)).to.equal(0);
      expect(receiver.received).to.have.length(0);
    });
  });
});
