import { expect } from 'chai';
import { percentile, renderStats } from '../../src/webhooks/stats.js';

describe('webhooks: stats', () => {
  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 50)).to.equal(null);
    expect(percentile([7], 95)).to.equal(7);
    expect(percentile([1, 2, 3, 4], 50)).to.equal(2);
    expect(percentile([1, 2, 3, 4], 95)).to.equal(4);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).to.equal(50);
    expect(percentile(hundred, 95)).to.equal(95);
  });

  it('renders counters, ignoring junk samples and counting pending and delivering', () => {
    const s = renderStats({ total: '4', succeeded: '3', failed: '1', last_success: '0' }, ['30', 'x', '10', '20'], ['pending', 'delivered', 'delivering', null, 'failed']);
    expect(s).to.deep.equal({
      total: 4, succeeded: 3, failed: 1, pending: 2, success_rate: 0.75,
      last_success_at: null, last_failure_at: null, latency_ms: { p50: 20, p95: 30 },
    });
  });
});
