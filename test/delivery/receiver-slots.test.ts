/**
 * The dispatcher's per-receiver bookkeeping on its own: caps per host and
 * per subscription endpoint, and the answer clock that sizes a busy
 * receiver's queue and its overflow's wait in Redis. Times are passed in,
 * so no clock is faked.
 */
import { expect } from 'chai';
import { createReceiverSlots } from '../../src/delivery/receiver-slots.js';
import type { ClaimedDelivery } from '../../src/delivery/outbox.js';

const delivery = (url: string, sub = ''): ClaimedDelivery => ({
  id: 'd1',
  url,
  body: '{}',
  msgId: 'msg_1',
  attempts: 0,
  secret: 'default',
  event: 'task.completed',
  taskId: 't1',
  sub,
  trace: '',
  lease: 0,
  leaseUntil: 0,
});

describe('delivery: receiver slots', () => {
  const make = () => createReceiverSlots({ hostConcurrency: 2, endpointConcurrency: 1, timeoutMs: 5000 });

  it('a task callback takes its host slot; a subscription delivery its host and its endpoint', () => {
    const r = make();
    expect(r.of(delivery('http://a.example:8080/cb?x=1'))).to.deep.equal(['h:a.example:8080']);
    expect(r.of(delivery('https://b.example/hook', 'wh_1'))).to.deep.equal(['h:b.example', 's:wh_1']);
    expect(r.of(delivery('not a url'))).to.deep.equal(['h:']);
  });

  it('a slot is full at its own cap, and free again when an attempt ends', () => {
    const r = make();
    const host = ['h:a'];
    r.take(host, 0);
    expect(r.full(host)).to.equal(undefined);
    r.take(host, 0);
    expect(r.full(host)).to.equal('h:a');
    // The endpoint's cap (1) is reached first.
    const sub = ['h:b', 's:wh_1'];
    r.take(sub, 0);
    expect(r.full(sub)).to.equal('s:wh_1');
    r.free(host, true, 10);
    expect(r.full(host)).to.equal(undefined);
    expect(r.busy('h:a')).to.equal(true);
    r.free(host, true, 10);
    expect(r.busy('h:a')).to.equal(false);
  });

  it('a receiver that keeps answering may have 64 × its cap waiting; one silent for over a second 4 ×', () => {
    const r = make();
    r.take(['h:a'], 1000);
    // First sent to at 1000: answering until it has been silent for a second.
    expect(r.maxWaiting('h:a', 1500)).to.equal(128);
    expect(r.maxWaiting('h:a', 2000)).to.equal(128);
    expect(r.maxWaiting('h:a', 2001)).to.equal(8);
    r.free(['h:a'], true, 2500);
    expect(r.maxWaiting('h:a', 3000)).to.equal(128);
    // A timeout or a refused connection is not an answer.
    r.take(['h:a'], 3000);
    r.free(['h:a'], false, 9000);
    expect(r.maxWaiting('h:a', 9000)).to.equal(8);
  });

  it("a saturated receiver's overflow waits about as long as it has been silent, 200 ms to the attempt deadline", () => {
    const r = make();
    r.take(['h:a'], 0);
    for (let i = 0; i < 50; i++) {
      const fresh = r.saturatedDelay('h:a', 50);
      expect(fresh).to.be.within(200, 399);
      const silent3s = r.saturatedDelay('h:a', 3000);
      expect(silent3s).to.be.within(3000, 3999);
      const silentLong = r.saturatedDelay('h:a', 60_000);
      expect(silentLong).to.be.within(5000, 5999);
    }
  });

  it('forgetting an idle receiver: sent to again, it counts as answering from its first attempt', () => {
    const r = make();
    r.take(['h:a'], 0);
    r.free(['h:a'], false, 10_000);
    expect(r.maxWaiting('h:a', 10_000)).to.equal(8);
    r.forget('h:a');
    r.take(['h:a'], 20_000);
    expect(r.maxWaiting('h:a', 20_500)).to.equal(128);
  });
});
