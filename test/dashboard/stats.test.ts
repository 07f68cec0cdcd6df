import { expect } from 'chai';
import { p95FromBuckets, RUN_TIME_BOUNDS, summarizeStats } from '../../src/dashboard/stats.js';

const buckets = (entries: Record<string, number>): number[] => [...RUN_TIME_BOUNDS.map((b) => entries[String(b)] ?? 0), entries.inf ?? 0];

describe('dashboard stats', () => {
  it('p95 interpolates inside the bucket that holds the 95th percentile', () => {
    expect(p95FromBuckets(buckets({}))).to.equal(null);
    // 100 runs: 90 ≤ 10 ms, 10 in (100, 250]: rank 95 is the 5th of 10 in that bucket.
    expect(p95FromBuckets(buckets({ 10: 90, 250: 10 }))).to.equal(175);
    // All in the first bucket: 0–10 ms, rounded to whole ms.
    expect(p95FromBuckets(buckets({ 10: 20 }))).to.equal(10);
    expect(p95FromBuckets(buckets({ 1000: 1 }))).to.equal(975);
    // The open last bucket answers its lower bound.
    expect(p95FromBuckets(buckets({ inf: 5 }))).to.equal(300000);
  });

  it('builds per-queue series, throughput, p95 per type and the callback success rate', () => {
    const first = 29_000_000;
    const hashes: Record<string, string>[] = [
      { 'debug:completed': '3', 'debug:failed': '1', 'video:completed': '2', 'type:debug.echo:n': '4', 'type:debug.echo:le10': '4', 'cb:delivered': '3', 'cb:retry': '1' },
      {},
      { 'debug:completed': '5', 'type:video.probe:n': '1', 'type:video.probe:le1000': '1', 'cb:failed': '2' },
    ];
    // 15 s into the last minute: a quarter of it elapsed, so 3/4 of the previous minute counts.
    const s = summarizeStats(first, hashes, (first + 2) * 60_000 + 15_000);
    expect(s.minutes).to.deep.equal([first * 60, (first + 1) * 60, (first + 2) * 60]);
    expect(s.queues.debug).to.deep.equal({ completed: [3, 0, 5], failed: [1, 0, 0] });
    expect(s.queues.video).to.deep.equal({ completed: [2, 0, 0], failed: [0, 0, 0] });
    expect(s.throughput).to.deep.equal({ completed: [5, 0, 5], failed: [1, 0, 0] });
    expect(Object.keys(s.p95)).to.deep.equal(['debug.echo', 'video.probe']);
    expect(s.p95['debug.echo']).to.deep.equal([10, null, null]);
    expect(s.p95['video.probe']).to.deep.equal([null, null, 975]);
    expect(s.callbackSuccess).to.deep.equal([0.75, null, 0]);
    expect(s.callbackAttempts).to.deep.equal([4, 0, 2]);
    expect(s.ratePerMin.debug).to.equal(5);
  });
});
