import { expect } from 'chai';
import { cpuSeconds, stealMeter } from '../../bench/lib/cpu.js';

describe('bench: CPU meters (/proc)', () => {
  it('reads this process’s CPU time, which grows while it computes', () => {
    const before = cpuSeconds(process.pid);
    const until = Date.now() + 150;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    expect(x).to.be.above(0);
    expect(cpuSeconds(process.pid)).to.be.above(before);
    expect(cpuSeconds(undefined)).to.be.NaN;
  });

  it('gives the host steal time as a percentage', async () => {
    const m = stealMeter();
    await new Promise((r) => setTimeout(r, 200));
    const pct = m.stop();
    expect(pct).to.be.a('number').and.to.be.within(0, 100);
  });
});
