import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { decodeCursor, encodeCursor, loadPageScript, scanPage, zPage } from '../../src/webhooks/page.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

describe('webhooks: cursor pagination', () => {
  let redis: TestRedis;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    loadPageScript(client);
  });
  after(async () => {
    client.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    await client.flushall();
    // a..j, scores 1,1,1,2,2,3,3,3,3,4: runs of equal scores on purpose.
    const scores = [1, 1, 1, 2, 2, 3, 3, 3, 3, 4];
    await client.zadd('z', ...scores.flatMap((s, i) => [s, String.fromCharCode(97 + i)]));
  });

  const members = (e: { member: string }[]) => e.map((x) => x.member);

  it('round-trips cursors and refuses foreign ones with a 400 naming cursor', () => {
    const c = { score: 1_700_000_000_123, member: 'abc.1.task.completed.wh_0123' };
    expect(decodeCursor(encodeCursor(c))).to.deep.equal(c);
    expect(decodeCursor(undefined)).to.equal(null);
    for (const bad of ['zzz', Buffer.from('x:y').toString('base64url'), Buffer.from('12:bad member').toString('base64url'), '!!']) {
      expect(() => decodeCursor(bad), bad).to.throw().with.property('issues').that.deep.equals([{ field: 'cursor', message: 'not a cursor returned by this API' }]);
    }
  });

  it('walks the set newest first in pages, exactly, across ties', async () => {
    const all = members(await zPage(client, 'z', null, 100));
    expect(all).to.deep.equal(['j', 'i', 'h', 'g', 'f', 'e', 'd', 'c', 'b', 'a']);
    const seen: string[] = [];
    let cursor: { score: number; member: string } | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await zPage(client, 'z', cursor, 3);
      if (page.length === 0) break;
      seen.push(...members(page));
      const last = page[page.length - 1]!;
      cursor = { score: last.score, member: last.member };
    }
    expect(seen).to.deep.equal(all);
  });

  it('continues after a removed cursor item without skipping, and honours a lower bound', async () => {
    await client.zrem('z', 'g');
    // g had score 3: the page starts at the first item with score 3 again (may repeat, never skips).
    expect(members(await zPage(client, 'z', { score: 3, member: 'g' }, 10))).to.deep.equal(['i', 'h', 'f', 'e', 'd', 'c', 'b', 'a']);
    expect(members(await zPage(client, 'z', null, 10, 3))).to.deep.equal(['j', 'i', 'h', 'f']);
  });

  it('scanPage fills pages through a filter and bounds the scan', async () => {
    const keep = new Set(['j', 'f', 'a']);
    const load = async (entries: { member: string }[]) => entries.map((e) => (keep.has(e.member) ? e.member : null));
    const p1 = await scanPage(client, { key: 'z', cursor: null, limit: 2, load });
    expect(p1.items).to.deep.equal(['j', 'f']);
    expect(p1.next_cursor).to.be.a('string');
    const p2 = await scanPage(client, { key: 'z', cursor: decodeCursor(p1.next_cursor!), limit: 2, load });
    expect(p2).to.deep.equal({ items: ['a'], next_cursor: null });
    // At most 4 entries examined: a partial page with a cursor to go on from.
    const bounded = await scanPage(client, { key: 'z', cursor: null, limit: 3, load, maxScan: 4 });
    expect(bounded.items).to.deep.equal(['j']);
    expect(decodeCursor(bounded.next_cursor!)).to.deep.equal({ score: 3, member: 'g' });
  });
});
