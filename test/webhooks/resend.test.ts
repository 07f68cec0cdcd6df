/**
 * What a resend refuses: a `webhook.test` event (sent once, from the API;
 * never a dead letter) and a `task.progress` event of a finished task (no
 * progress follows the terminal event). Real API, real Redis, the real task
 * store and outbox scripts writing the deliveries.
 */
import { expect } from 'chai';
import { createOutbox } from '../../src/delivery/outbox.js';
import { createTaskStore, type TaskStore } from '../../src/store/task-store.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { call, expectProblem } from '../api/harness.js';
import { TENANT_A, startWebhookApi, type WebhookHarness } from './harness.js';

describe('webhooks: resend refusals', () => {
  let h: WebhookHarness;
  let rx: Receiver;
  let store: TaskStore;
  before(async () => {
    h = await startWebhookApi();
    rx = await startReceiver();
    store = createTaskStore(h.client, h.keys);
  });
  after(async () => {
    await rx.close();
    await h.close();
  });
  beforeEach(async () => {
    await h.client.flushall();
    rx.received.length = 0;
    rx.script([], 200);
  });

  const newSub = async (): Promise<string> => {
    const r = await call(h, 'POST', '/api/v1/webhooks', { body: { url: `${rx.url}/hook`, events: ['*'] } });
    expect(r.status, r.text).to.equal(201);
    return r.json.id as string;
  };
  const dueIds = () => h.client.zrange(h.keys.due, 0, -1);

  it('refuses a failed webhook.test delivery (409 test_event_not_resendable); recover skips it', async () => {
    const sub = await newSub();
    rx.script([500]);
    const t = await call(h, 'POST', `/api/v1/webhooks/${sub}/test`);
    expect(t.json.outcome, t.text).to.equal('failed');
    const id = t.json.delivery_id as string;

    const r = expectProblem(await call(h, 'POST', `/api/v1/deliveries/${id}/resend`), 409);
    expect(r.code).to.equal('test_event_not_resendable');
    expect(await h.client.hget(h.keys.delivery(id), 'state')).to.equal('failed');
    expect(await dueIds()).to.deep.equal([]);

    const rec = await call(h, 'POST', `/api/v1/webhooks/${sub}/recover`, { body: { since: '2000-01-01T00:00:00Z' } });
    expect(rec.status, rec.text).to.equal(202);
    expect(rec.json.resent).to.equal(0);
    expect(await dueIds()).to.deep.equal([]);
  });

  it('refuses a progress event of a finished task (409 progress_closed), dropped or failed; recover skips it; a running task’s is resent', async () => {
    const sub = await newSub();
    const outbox = createOutbox(h.client, h.keys, { disableAfterMs: 1e9, progressIntervalMs: 1000 });
    const task = async (id: string) => {
      const fields = { id, tenant: TENANT_A, gen: '1', status: 'running', type: 'debug.echo', queue: 'debug', started: String(Date.now()) };
      await h.client.hset(h.keys.task(id), fields);
      const pid = `${id}.progress.${sub}`;
      await store.progressEvent(fields, { deliveryId: pid, url: `${rx.url}/hook`, body: '{"p":40}', msgId: `msg_${id}`, sub }, 1000);
      return { fields, pid };
    };
    /** Claims the progress delivery and records a final failure: a dead letter. */
    const failIt = async (pid: string) => {
      const [c] = await outbox.claim(10, 30_000);
      expect(c?.id).to.equal(pid);
      if (!c) throw new Error('nothing claimed');
      const attempt = { n: 1, at: new Date().toISOString(), status_code: 500, duration_ms: 3, error: 'HTTP 500', outcome: 'failed' as const };
      expect(await outbox.record(pid, attempt, null, c.lease)).to.equal('failed');
    };
    const finish = (t: { fields: Record<string, string>; pid: string }) => store.finish(t.fields, { status: 'completed', result: {} }, [], [t.pid], Date.now() + 30_000);

    // Pending when its task finished: dropped by finish.lua.
    const a = await task('ta');
    expect((await finish(a)).kind).to.equal('ok');
    expect(await h.client.hget(h.keys.delivery(a.pid), 'state')).to.equal('dropped');
    // Failed while its task ran, then the task finished.
    const b = await task('tb');
    await failIt(b.pid);
    expect((await finish(b)).kind).to.equal('ok');
    for (const pid of [a.pid, b.pid]) {
      const r = expectProblem(await call(h, 'POST', `/api/v1/deliveries/${pid}/resend`), 409);
      expect(r.code, pid).to.equal('progress_closed');
    }
    expect(await h.client.hget(h.keys.delivery(b.pid), 'state')).to.equal('failed');
    const rec = await call(h, 'POST', `/api/v1/webhooks/${sub}/recover`, { body: { since: '2000-01-01T00:00:00Z' } });
    expect(rec.json.resent, rec.text).to.equal(0);
    expect(await dueIds()).to.deep.equal([]);

    // The task still runs: its failed progress event may be resent.
    const c = await task('tc');
    await failIt(c.pid);
    const ok = await call(h, 'POST', `/api/v1/deliveries/${c.pid}/resend`);
    expect(ok.status, ok.text).to.equal(202);
    expect(await dueIds()).to.deep.equal([c.pid]);
  });
});
