import { expect } from 'chai';
import { cachedCheck } from '../../src/egress/index.js';
import { DestinationBlockedError } from '../../src/errors.js';

/** A check that counts its calls and refuses URLs containing "bad". */
function countingCheck() {
  const calls: string[] = [];
  const check = async (url: string) => {
    calls.push(url);
    await Promise.resolve();
    if (url.includes('bad')) throw new DestinationBlockedError(`${url} is blocked`);
  };
  return { calls, check };
}

describe('egress: cachedCheck (submit-time verdicts reused for a TTL)', () => {
  it('reuses a pass and a refusal within the TTL, and checks again after it', async () => {
    let t = 1_000;
    const { calls, check } = countingCheck();
    const cached = cachedCheck(check, { ttlMs: 100, max: 10, now: () => t });
    await cached('https://ok.example/');
    await cached('https://ok.example/');
    const refusals = await Promise.allSettled([cached('https://bad.example/'), cached('https://bad.example/')]);
    for (const r of refusals) {
      expect(r.status).to.equal('rejected');
      expect((r as PromiseRejectedResult).reason).to.be.instanceOf(DestinationBlockedError);
    }
    expect(calls).to.deep.equal(['https://ok.example/', 'https://bad.example/']);
    t += 100;
    await cached('https://ok.example/');
    expect(calls).to.have.length(3);
  });

  it('shares one check between concurrent callers', async () => {
    const { calls, check } = countingCheck();
    const cached = cachedCheck(check, { ttlMs: 1000, max: 10 });
    await Promise.all(Array.from({ length: 5 }, () => cached('https://a.example/')));
    expect(calls).to.have.length(1);
  });

  it('holds at most max URLs, then starts over', async () => {
    const { calls, check } = countingCheck();
    const cached = cachedCheck(check, { ttlMs: 60_000, max: 2 });
    for (const u of ['https://a/', 'https://b/', 'https://c/', 'https://a/']) await cached(u);
    // c emptied the full cache, so a is checked again.
    expect(calls).to.deep.equal(['https://a/', 'https://b/', 'https://c/', 'https://a/']);
  });

  it('ttlMs 0 checks every time', async () => {
    const { calls, check } = countingCheck();
    const cached = cachedCheck(check, { ttlMs: 0, max: 10 });
    await cached('https://a/');
    await cached('https://a/');
    expect(calls).to.have.length(2);
  });
});
