/**
 * The bench report's verdicts: the latency targets name the naive reference's
 * p99 at the same paced rate, measured in the same run, when there is one.
 */
import { expect } from 'chai';
import { checkTargets, renderTable } from '../../bench/lib/report.js';
import type { BenchResults, E2eAgg, LatencyAgg, NaiveAgg } from '../../bench/lib/results.js';
import { aggregate, type Aggregate } from '../../bench/lib/stats.js';

/** One run's figure (a one-run aggregate prints without a range). */
const agg = (x: number): Aggregate => aggregate([x]);

function lat(rate: number, p99: number, state: 'ok' | 'saturated' | 'skipped' = 'ok'): LatencyAgg {
  const legs = { p50: agg(p99 / 4), p95: agg(p99 / 2), p99: agg(p99) };
  return {
    rate,
    acceptedPerSec: agg(rate),
    submitToCallback: legs,
    completedToCallback: legs,
    complete: [state === 'ok'],
    saturated: [state !== 'ok'],
    skipped: [state === 'skipped'],
  };
}

function e2e(latency: LatencyAgg[]): E2eAgg {
  return {
    acceptedPerSec: agg(3000),
    callbacksPerSec: agg(3000),
    callbacksPerSecDuringLoad: agg(3000),
    drainSec: agg(1),
    ratioToBeeQueue: agg(0.2),
    complete: [true],
    latency,
  };
}

function results(naiveLatency: LatencyAgg[] | undefined): BenchResults {
  const naive: NaiveAgg = {
    callbacksPerSec: agg(3600),
    ratioToBeeQueue: agg(0.25),
    taskhookRatio: agg(0.8),
    cpuMsPerTask: { total: agg(0.5) },
    redisPerTask: { commands: agg(13), reads: agg(2) },
    complete: [true],
    ...(naiveLatency ? { latency: naiveLatency } : {}),
  };
  return {
    date: '2026-12-07',
    quick: false,
    runs: 1,
    elapsedSec: 1,
    machine: { cpus: 2, cpuModel: 'test', memGiB: 1, node: 'v20', redis: '7', os: 'test' },
    commands: ['npm run bench'],
    envOverrides: {},
    params: { latencyCollectMs: 20_000 },
    baseline: { jobs: 20_000, jobsPerSec: agg(15_000) },
    naive,
    ceiling: { inFlight: 50, reqPerSec: agg(9000) },
    raw: e2e([lat(1000, 10), lat(2000, 40), lat(3000, 900, 'saturated')]),
    durable: e2e([lat(2000, 50)]),
    isolation: { allHealthyPerSec: agg(1), oneHangingPerSec: agg(1), ratio: agg(1), callbackTimeoutMs: 5000 },
    memory: {
      apiIdleMiB: agg(100),
      apiAfterMiB: agg(120),
      workerIdleMiB: agg(100),
      workerAfterMiB: agg(130),
      tasksPerWorker: [50_000],
      redisTasks: 100_000,
      redisBytesPerTask: 875,
    },
    image: { skipped: 'not in this test' } as BenchResults['image'],
    profile: null,
    targets: [],
    detail: [],
  };
}

describe('bench: report', () => {
  it('each p99 target names the naive reference’s p99 at that rate from the same run', () => {
    const r = results([lat(1000, 5), lat(2000, 20), lat(3000, 0, 'skipped')]);
    const [, at2000, at3000] = checkTargets(r);
    expect(at2000?.measured).to.equal('40.0 ms; the naive reference: 20.0 ms');
    expect(at2000?.met).to.equal(false);
    expect(at3000?.measured).to.match(/^900 ms \(saturated: not all called back\); the naive reference: not run \(a lower rate saturated\)$/);
  });

  it('gives no verdict where the run could not measure a target (a --quick run), and "no" where a lower rate saturated', () => {
    const quick = results(undefined);
    quick.raw = e2e([lat(1000, 10), lat(2000, 20)]);
    quick.memory.tasksPerWorker = [18_000];
    quick.targets = checkTargets(quick);
    const byName = new Map(quick.targets.map((t) => [t.name, t.met]));
    expect(byName.get('p99 submit → callback at 2000/s')).to.equal(true);
    expect(byName.get('p99 submit → callback at 3000/s')).to.equal(null);
    expect(byName.get('worker RSS after ≥ 20,000 tasks')).to.equal(null);
    expect(renderTable(quick)).to.include('| p99 submit → callback at 3000/s | < 100 ms | not measured in this run (--quick skips it) | no verdict |');

    const skipped = results(undefined);
    skipped.raw = e2e([lat(1000, 10), lat(2000, 900, 'saturated'), lat(3000, 0, 'skipped')]);
    expect(checkTargets(skipped).find((t) => t.name === 'p99 submit → callback at 3000/s')?.met).to.equal(false);
  });

  it('says nothing of the naive reference where it has no latency (results written before it was measured)', () => {
    const [, at2000] = checkTargets(results(undefined));
    expect(at2000?.measured).to.equal('40.0 ms');
  });

  it('the table has the naive reference’s latency rows, a saturated rate marked', () => {
    const r = results([lat(1000, 5), lat(2000, 120, 'saturated')]);
    r.targets = checkTargets(r);
    const table = renderTable(r);
    expect(table).to.include('| 1b. naive reference @ 1000/s: submit → callback p50 / p95 / p99 (ms) | 1.3 / 2.5 / 5.0 |');
    expect(table).to.match(/\| 1b\. naive reference @ 2000\/s: accepted\/s \| 2,000 ⚠ saturated in 1\/1 run\(s\)/);
    // Only taskhook's rows carry the completed_at → callback leg.
    expect(table).to.not.include('1b. naive reference @ 1000/s: completed_at');
    expect(table).to.include('| 4. AOF off @ 1000/s: completed_at → callback p50 / p95 / p99 (ms) |');
  });
});
