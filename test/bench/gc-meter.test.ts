import { expect } from 'chai';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseGcMetrics } from '../../bench/lib/gc-meter.js';

describe('bench: GC meter', () => {
  it('reads the GC counts by kind and the total GC time from prom-client’s exposition', async function () {
    this.timeout(10_000);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // Allocate until prom-client's GC observer has seen young-generation collections.
    let minor = 0;
    for (let round = 0; round < 50 && minor === 0; round++) {
      let junk: unknown[] = [];
      for (let i = 0; i < 200_000; i++) junk.push({ i, s: `x${i}` });
      junk = [];
      await new Promise((r) => setTimeout(r, 20));
      minor = parseGcMetrics(await registry.metrics()).count.get('minor') ?? 0;
    }
    const sample = parseGcMetrics(await registry.metrics());
    expect(sample.count.get('minor')).to.be.above(0);
    expect(sample.seconds).to.be.above(0);
    registry.clear();
  });
});
