import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { backoff, decide, policyFromConfig, type RetryPolicy } from '../../src/delivery/policy.js';
import type { AttemptResult } from '../../src/delivery/send.js';

const policy: RetryPolicy = policyFromConfig(testConfig());

function result(over: Partial<AttemptResult>): AttemptResult {
  return {
    status_code: null,
    duration_ms: 5,
    error: null,
    error_kind: 'none',
    retry_after_ms: null,
    response_excerpt: '',
    response_headers: {},
    ...over,
  };
}
const http = (status: number, retryAfterMs: number | null = null) =>
  result({
    status_code: status,
    error_kind: status < 300 ? 'none' : status < 400 ? 'redirect' : 'http',
    error: status < 300 ? null : `HTTP ${status}`,
    retry_after_ms: retryAfterMs,
  });

describe('delivery/policy', () => {
  it('policyFromConfig reads the three settings and retries 408/429', () => {
    expect(policy).to.deep.equal({ maxRetries: 3, backoffMs: 1000, retryAfterMaxMs: 300_000, retryStatuses: [408, 429] });
    const custom = policyFromConfig(
      testConfig({ CALLBACK_MAX_RETRIES: '0', CALLBACK_BACKOFF_MS: '50', CALLBACK_RETRY_AFTER_MAX_MS: '9000' }),
    );
    expect(custom).to.include({ maxRetries: 0, backoffMs: 50, retryAfterMaxMs: 9000 });
  });

  it('backoff doubles: 1 s, 2 s, 4 s', () => {
    expect([1, 2, 3, 4].map((n) => backoff(policy, n))).to.deep.equal([1000, 2000, 4000, 8000]);
    expect(backoff({ ...policy, backoffMs: 250 }, 3)).to.equal(1000);
    expect(() => backoff(policy, 0)).to.throw(RangeError);
    expect(() => backoff(policy, 1.5)).to.throw(RangeError);
  });

  it('2xx is delivered', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(decide(policy, 1, http(s))).to.deep.equal({ outcome: 'delivered', delayMs: null });
  });

  it('blocked is never retried, whatever the attempt number', () => {
    const r = result({ error_kind: 'blocked', error: 'Destination blocked: private address' });
    expect(decide(policy, 1, r)).to.deep.equal({ outcome: 'blocked', delayMs: null });
  });

  it('retryable results follow the 1 s / 2 s / 4 s schedule, then fail', () => {
    const retryable = [
      result({ error_kind: 'timeout', error: 'Timed out' }),
      result({ error_kind: 'timeout', status_code: 200, error: 'Timed out' }),
      result({ error_kind: 'connection', error: 'ECONNREFUSED' }),
      http(408),
      http(429),
      http(500),
      http(502),
      http(503),
      http(599),
    ];
    for (const r of retryable) {
      expect([1, 2, 3, 4].map((n) => decide(policy, n, r))).to.deep.equal([
        { outcome: 'retry', delayMs: 1000 },
        { outcome: 'retry', delayMs: 2000 },
        { outcome: 'retry', delayMs: 4000 },
        { outcome: 'failed', delayMs: null },
      ]);
    }
  });

  it('maxRetries 0: the first failure is final', () => {
    expect(decide({ ...policy, maxRetries: 0 }, 1, http(503))).to.deep.equal({ outcome: 'failed', delayMs: null });
  });

  it('Retry-After lengthens the delay, capped at retryAfterMaxMs, never shortens it', () => {
    expect(decide(policy, 1, http(429, 30_000))).to.deep.equal({ outcome: 'retry', delayMs: 30_000 });
    expect(decide(policy, 3, http(503, 10))).to.deep.equal({ outcome: 'retry', delayMs: 4000 });
    expect(decide(policy, 1, http(503, 3_600_000))).to.deep.equal({ outcome: 'retry', delayMs: 300_000 });
    expect(decide({ ...policy, retryAfterMaxMs: 0 }, 2, http(429, 60_000))).to.deep.equal({ outcome: 'retry', delayMs: 2000 });
  });

  it('other 4xx and every 3xx fail at once', () => {
    for (const s of [400, 401, 403, 404, 410, 413, 422, 301, 302, 307, 308]) {
      expect(decide(policy, 1, http(s, 1000)), String(s)).to.deep.equal({ outcome: 'failed', delayMs: null });
    }
  });
});
