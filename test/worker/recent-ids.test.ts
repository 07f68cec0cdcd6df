/** The cancel requests a worker keeps for runs it does not hold (yet): bounded by age and by count. */
import { expect } from 'chai';
import sinon from 'sinon';
import { recentIds } from '../../src/worker/recent-ids.js';

describe('worker: recent ids (early cancel requests)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
  });
  afterEach(() => clock.restore());

  it('an id heard within the time-to-live is taken once', () => {
    const ids = recentIds(10_000, 100);
    ids.add('t1:1');
    clock.tick(9_999);
    expect(ids.take('t1:2')).to.equal(false);
    expect(ids.take('t1:1')).to.equal(true);
    expect(ids.take('t1:1')).to.equal(false);
  });

  it('an id older than the time-to-live is not taken', () => {
    const ids = recentIds(10_000, 100);
    ids.add('t1:1');
    clock.tick(10_000);
    expect(ids.take('t1:1')).to.equal(false);
  });

  it('beyond its size, the oldest ids are forgotten first', () => {
    const ids = recentIds(10_000, 3);
    for (const id of ['a', 'b', 'c', 'd']) ids.add(id);
    expect(ids.take('a')).to.equal(false);
    expect(['b', 'c', 'd'].map((id) => ids.take(id))).to.deep.equal([true, true, true]);
  });

  it('hearing an id again makes it the newest', () => {
    const ids = recentIds(10_000, 2);
    ids.add('a');
    ids.add('b');
    ids.add('a');
    ids.add('c'); // 'b' is now the oldest
    expect(ids.take('b')).to.equal(false);
    expect(ids.take('a')).to.equal(true);
  });
});
