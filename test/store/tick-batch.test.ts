import { expect } from 'chai';
import { tickBatcher } from '../../src/store/tick-batch.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('store: tickBatcher', () => {
  it('sends the calls of one turn as one batch, in order, and gives each call its own result', async () => {
    const batches: number[][] = [];
    const call = tickBatcher<number, number>(async (items) => {
      batches.push([...items]);
      return items.map((n) => n * 10);
    });
    const first = await Promise.all([call(1), call(2), call(3)]);
    const second = await call(4);
    expect(first).to.deep.equal([10, 20, 30]);
    expect(second).to.equal(40);
    expect(batches).to.deep.equal([[1, 2, 3], [4]]);
  });

  it('sends a batch at once when it reaches maxWeight, and the rest of the turn in the next one', async () => {
    const batches: string[][] = [];
    const call = tickBatcher<string, string>(
      async (items) => {
        batches.push([...items]);
        return items;
      },
      { weight: (s) => s.length, maxWeight: 5 },
    );
    const done = Promise.all([call('ab'), call('cde'), call('f')]);
    // The first two weigh 5: they left before the turn ended.
    expect(batches).to.deep.equal([['ab', 'cde']]);
    await done;
    expect(batches).to.deep.equal([['ab', 'cde'], ['f']]);
  });

  it('fails every call of a failed batch with its error, and the next batch is independent', async () => {
    let fail = true;
    const call = tickBatcher<number, number>(async (items) => {
      if (fail) throw new Error('redis said no');
      return items;
    });
    const results = await Promise.allSettled([call(1), call(2)]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).to.deep.equal(['redis said no', 'redis said no']);
    fail = false;
    await turn();
    expect(await call(3)).to.equal(3);
  });

  it('refuses a batch answer with the wrong number of results, and a flush that throws', async () => {
    const short = tickBatcher<number, number>(async () => [1]);
    const results = await Promise.allSettled([short(1), short(2)]);
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    const throwing = tickBatcher<number, number>(() => {
      throw new Error('sync throw');
    });
    let err: unknown;
    try {
      await throwing(1);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('sync throw');
  });
});
