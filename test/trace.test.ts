import { expect } from 'chai';
import { childTraceparent, newTraceparent, parseTraceparent, traceId } from '../src/trace.js';

const FORMAT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe('trace: W3C traceparent', () => {
  it('new roots are valid and distinct, across many refills of the random pool', () => {
    const seen = new Set<string>();
    const traces = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const tp = newTraceparent();
      expect(tp).to.match(FORMAT);
      expect(parseTraceparent(tp)).to.equal(tp);
      seen.add(tp);
      traces.add(traceId(tp) ?? '');
    }
    expect(seen.size).to.equal(5000);
    expect(traces.size).to.equal(5000);
  });

  it('a child keeps the trace and its flags, with a new span', () => {
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const spans = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const child = childTraceparent(parent);
      expect(child).to.match(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
      spans.add(child.slice(36, 52));
    }
    expect(spans.size).to.equal(300);
    expect(spans.has('00f067aa0ba902b7')).to.equal(false);
  });

  it('an invalid parent gets a new root; invalid input parses to null', () => {
    expect(childTraceparent('junk')).to.match(FORMAT);
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).to.equal(null);
    expect(parseTraceparent(' 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01 ')).to.equal('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  });
});
