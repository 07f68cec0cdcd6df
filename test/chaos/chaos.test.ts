/**
 * The reduced chaos run inside `npm test`: 300 tasks through real API and
 * worker processes and a real receiver, while a worker is SIGKILLed, Redis
 * (AOF on) restarts, and the receiver fails 30% of callbacks. Zero accepted
 * tasks may be lost. The full run is `npm run chaos` (same code).
 */
import { expect } from 'chai';
import { formatChaosReport, runChaos, type ChaosReport } from '../../bench/lib/chaos.js';

describe('chaos: worker SIGKILL + Redis restart + failing receiver', function () {
  this.timeout(120_000);
  let report: ChaosReport;

  before(async () => {
    report = await runChaos({
      tasks: 300,
      rate: 50,
      workers: 3,
      concurrency: 16,
      killEveryMs: 2000,
      maxWorkerKills: 1,
      redisRestartAt: 0.5,
      apiRestartAt: null,
      receiverFailRate: 0.3,
      receiverOutageMs: 0,
      drainTimeoutMs: 45_000,
    });
    if (!report.ok || process.env.TEST_LOGS) process.stderr.write(`${formatChaosReport(report)}\n`);
  });

  it('really injected the faults (one worker kill, one Redis restart, failed callback attempts)', () => {
    expect(report.workerKills).to.equal(1);
    expect(report.events.some((e) => e.what.startsWith('Redis: started again'))).to.equal(true);
    expect(report.requests.err500 + report.requests.dropped).to.be.greaterThan(0);
  });

  it('accepted every submitted task (submits retried through the Redis restart)', () => {
    expect(report.submitted).to.equal(300);
    expect(report.accepted).to.equal(300);
  });

  it('loses no accepted task: each one has a terminal callback answered 200', () => {
    expect(report.lost, `lost task ids (files kept in ${report.workDir})`).to.deep.equal([]);
  });

  it('leaves no accepted task running/queued or with an undelivered callback', () => {
    expect(report.notFinished).to.deep.equal([]);
  });

  it('queues each accepted task once (every retried submit carries its Idempotency-Key)', () => {
    const records = Object.values(report.recordsByStatus).reduce((a, b) => a + b, 0);
    expect(records).to.equal(report.accepted);
    expect(report.callbacksForUnacknowledgedTasks).to.equal(0);
  });

  it('keeps one webhook-id per task outcome', () => {
    expect(report.tasksWithSeveralMessageIds).to.equal(0);
  });
});
