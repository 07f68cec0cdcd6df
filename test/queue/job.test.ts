import { expect } from 'chai';
import BeeQueue from 'bee-queue';
import { KEPT_STACKTRACES, MAX_FAULT_PAUSE_MS, parseJob, pauseJob, retryJob } from '../../src/queue/job.js';

describe('queue: job JSON (retries and fault pauses)', () => {
  const now = 1_700_000_000_000;

  it('a retry counts down and backs off exactly as bee-queue does, for each strategy', () => {
    for (const [strategy, delay] of [['exponential', 1000], ['fixed', 700], ['immediate', 0], ['none', 0]] as const) {
      // bee-queue's own Job (never connected) as the reference: Job#computeDelay, then one retry fewer.
      const ref = new BeeQueue('ref', { autoConnect: false, isWorker: false, getEvents: false }).createJob({}).retries(3);
      if (strategy !== 'none') ref.backoff(strategy, delay);
      let json = JSON.stringify({ data: {}, options: ref.options, status: 'created' });
      const delays: number[] = [];
      const refDelays: number[] = [];
      for (let i = 0; i < 3; i++) {
        const again = retryJob(parseJob(json), `stack ${i}`, now);
        expect(again, `${strategy} retry ${i + 1}`).to.not.equal(null);
        delays.push((again?.at ?? 0) - now);
        json = again?.data ?? '';
        refDelays.push((ref as unknown as { computeDelay(): number }).computeDelay());
        ref.options.retries = (ref.options.retries ?? 0) - 1;
      }
      expect(delays, strategy).to.deep.equal(refDelays);
      expect(retryJob(parseJob(json), 'last', now), 'no retries left').to.equal(null);
      const job = parseJob(json);
      expect(job.options.retries).to.equal(0);
      expect(job.options.backoff).to.deep.equal(ref.options.backoff);
      expect(job.status).to.equal('retrying');
      expect(job.options.stacktraces).to.deep.equal(['stack 2', 'stack 1', 'stack 0']);
    }
  });

  it('exponential backoff from 1 s gives the documented 1 s, 2 s, 4 s', () => {
    let json = JSON.stringify({ data: {}, options: { retries: 3, backoff: { strategy: 'exponential', delay: 1000 }, stacktraces: [] } });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const again = retryJob(parseJob(json), 'e', now);
      delays.push((again?.at ?? 0) - now);
      json = again?.data ?? '';
    }
    expect(delays).to.deep.equal([1000, 2000, 4000]);
  });

  it('a fault pause doubles from the first pause up to the cap, counts faults, leaves retries and backoff alone, and bounds the stacks', () => {
    let job = parseJob(JSON.stringify({ data: {}, options: { retries: 2, backoff: { strategy: 'exponential', delay: 1000 }, stacktraces: [] } }));
    const pauses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const again = pauseJob(job, `fault ${i}`, 5000, now);
      pauses.push(again.at - now);
      job = parseJob(again.data);
    }
    expect(pauses.slice(0, 4)).to.deep.equal([5000, 10_000, 20_000, 40_000]);
    expect(pauses.at(-1)).to.equal(MAX_FAULT_PAUSE_MS);
    expect(job.options).to.deep.include({ retries: 2, backoff: { strategy: 'exponential', delay: 1000 }, faults: 12 });
    expect(job.options.stacktraces).to.have.length(KEPT_STACKTRACES);
    expect(job.options.stacktraces?.[0]).to.equal('fault 11');
  });

  it('a job JSON that does not parse reads as one with default options (no retries)', () => {
    expect(parseJob('not json')).to.deep.equal({ data: {}, options: {} });
    expect(parseJob('{"data":1}')).to.deep.equal({ data: {}, options: {} });
    expect(retryJob(parseJob(''), 'x', now)).to.equal(null);
  });
});
