/**
 * Cancel, retry and the task list over real HTTP and a real Redis (no
 * worker: what the API itself writes is checked in Redis).
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { tenantOf } from '../../src/api/auth.js';
import { taskCancelledPayloadSchema } from '../../src/delivery/payload.js';
import { tenantTasksKey } from '../../src/store/task-list.js';
import { KEY_B, call, expectProblem, fields, startApi, type Harness } from './harness.js';

describe('api: task control and listing', function () {
  this.timeout(20_000);
  let h: Harness;

  const submit = async (body: Record<string, unknown>, key?: string): Promise<string> => {
    const r = await call(h, 'POST', '/api/v1/tasks', { body, key });
    expect(r.status, r.text).to.equal(202);
    return String(r.json.task_id);
  };
  const bq = (name: string) => `${h.keys.bq}:debug:${name}`;

  before(async () => {
    h = await startApi();
  });
  after(async () => {
    await h.close();
  });

  describe('POST /api/v1/tasks/{id}/cancel', () => {
    it('cancels a delayed task at once: 200, removes its job, writes one task.cancelled delivery due now', async () => {
      const id = await submit({
        task_type: 'debug.echo',
        callback_url: 'https://example.com/cb',
        metadata: { order: 7 },
        project_id: 'proj',
        options: { delay_s: 600 },
      });
      expect(await h.client.zscore(bq('delayed'), id)).to.not.equal(null);
      const before = Date.now();
      const r = await call(h, 'POST', `/api/v1/tasks/${id}/cancel`);
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.include({ task_id: id, status: 'cancelled' });
      expect(Date.parse(String(r.json.completed_at))).to.be.at.least(before - 5);
      expect(await h.client.zscore(bq('delayed'), id)).to.equal(null);
      expect(await h.client.hexists(bq('jobs'), id)).to.equal(0);

      const dlv = await h.client.hgetall(h.keys.delivery(`${id}.1`));
      expect(dlv).to.include({ event: 'task.cancelled', state: 'pending', url: 'https://example.com/cb' });
      const payload = taskCancelledPayloadSchema.parse(JSON.parse(dlv.body as string));
      expect(payload).to.include({ event: 'task.cancelled', task_id: id, project_id: 'proj', task_type: 'debug.echo', status: 'cancelled' });
      expect(payload.metadata).to.deep.equal({ order: 7 });
      expect(Number(await h.client.zscore(h.keys.due, `${id}.1`))).to.be.at.most(Date.now());
      const task = await h.client.hgetall(h.keys.task(id));
      expect(task).to.include({ status: 'cancelled', dlv: `${id}.1`, runs: '0' });
      expect(task.cancel).to.equal(undefined);
    });

    it('answers 409 task_finished for a finished task, and writes nothing more', async () => {
      const id = await submit({ task_type: 'debug.echo', callback_url: 'https://example.com/cb' });
      expect((await call(h, 'POST', `/api/v1/tasks/${id}/cancel`)).status).to.equal(200);
      const again = await call(h, 'POST', `/api/v1/tasks/${id}/cancel`);
      const p = expectProblem(again, 409);
      expect(p.code).to.equal('task_finished');
      expect(await h.client.exists(h.keys.delivery(`${id}.2`))).to.equal(0);
      await h.client.hset(h.keys.task(id), 'status', 'completed');
      expect(expectProblem(await call(h, 'POST', `/api/v1/tasks/${id}/cancel`), 409).code).to.equal('task_finished');
    });

    it('tells the worker of a running task over pub/sub and answers 202 with the task still running', async () => {
      const id = await submit({ task_type: 'debug.sleep', task_data: { ms: 1000 }, options: { delay_s: 600 } });
      await h.client.hset(h.keys.task(id), 'status', 'running', 'started', String(Date.now()));
      const sub = new Redis(h.redis.url);
      try {
        const got = new Promise<string>((resolve) => sub.on('message', (_c: string, m: string) => resolve(m)));
        await sub.subscribe(h.keys.cancelChannel);
        const r = await call(h, 'POST', `/api/v1/tasks/${id}/cancel`);
        expect(r.status, r.text).to.equal(202);
        expect(r.json).to.include({ task_id: id, status: 'running' });
        expect(await got, 'the task id and the generation that runs').to.equal(`${id}:1`);
        expect(await h.client.hget(h.keys.task(id), 'cancel')).to.equal('1');
        expect(await h.client.exists(h.keys.delivery(`${id}.1`))).to.equal(0);
      } finally {
        sub.disconnect();
      }
    });

    it('is a 404 for an unknown id, a malformed id and another key’s task (which stays untouched)', async () => {
      const id = await submit({ task_type: 'debug.echo', options: { delay_s: 600 } });
      const other = await call(h, 'POST', `/api/v1/tasks/${id}/cancel`, { key: KEY_B });
      const unknown = await call(h, 'POST', '/api/v1/tasks/00000000-0000-4000-8000-000000000000/cancel');
      expect(expectProblem(other, 404).code).to.equal('not_found');
      expect(expectProblem(unknown, 404).code).to.equal('not_found');
      expect(other.json).to.deep.equal(unknown.json);
      expectProblem(await call(h, 'POST', '/api/v1/tasks/nope/cancel'), 404);
      expect(await h.client.hgetall(h.keys.task(id))).to.include({ status: 'queued' });
      expect(await h.client.hexists(h.keys.task(id), 'cancel')).to.equal(0);
      expectProblem(await call(h, 'POST', `/api/v1/tasks/${id}/cancel`, { key: null }), 401);
    });
  });

  describe('POST /api/v1/tasks/{id}/retry', () => {
    it('queues a cancelled task again under the same id: new generation, job without the delay, 202', async () => {
      const id = await submit({ task_type: 'debug.echo', callback_url: 'https://example.com/cb', options: { delay_s: 600, retries: 2 } });
      await call(h, 'POST', `/api/v1/tasks/${id}/cancel`);
      const r = await call(h, 'POST', `/api/v1/tasks/${id}/retry`);
      expect(r.status, r.text).to.equal(202);
      expect(r.headers.location).to.equal(`/api/v1/tasks/${id}`);
      expect(r.json).to.include({ task_id: id, status: 'queued', completed_at: null });
      expect(await h.client.hmget(h.keys.task(id), 'status', 'gen', 'dlv', 'finished')).to.deep.equal(['queued', '2', null, null]);
      expect(await h.client.lrange(bq('waiting'), 0, -1)).to.include(id);
      expect(await h.client.zscore(bq('delayed'), id)).to.equal(null);
      const job = JSON.parse((await h.client.hget(bq('jobs'), id)) as string) as { options: { retries: number; backoff: { strategy: string } } };
      expect(job.options.retries).to.equal(2);
      expect(job.options.backoff.strategy).to.equal('exponential');
    });

    it('answers 409 task_not_retryable for queued, running and completed tasks', async () => {
      const id = await submit({ task_type: 'debug.echo', options: { delay_s: 600 } });
      for (const status of ['queued', 'running', 'completed']) {
        await h.client.hset(h.keys.task(id), 'status', status);
        const p = expectProblem(await call(h, 'POST', `/api/v1/tasks/${id}/retry`), 409);
        expect(p.code).to.equal('task_not_retryable');
        expect(p.task_status).to.equal(status);
      }
      expect(await h.client.hget(h.keys.task(id), 'gen')).to.equal('1');
    });

    it('waits while the previous run’s job is still being acknowledged, then adds the new one', async () => {
      const id = await submit({ task_type: 'debug.echo', options: { delay_s: 600 } });
      await call(h, 'POST', `/api/v1/tasks/${id}/cancel`);
      // As if a worker had just written the outcome and not yet acknowledged its job.
      await h.client.multi().hset(bq('jobs'), id, '{"data":{},"options":{}}').lpush(bq('active'), id).exec();
      const ack = (async () => {
        await new Promise((r) => setTimeout(r, 200));
        await h.client.multi().lrem(bq('active'), 0, id).hdel(bq('jobs'), id).exec();
      })();
      const started = Date.now();
      const r = await call(h, 'POST', `/api/v1/tasks/${id}/retry`);
      await ack;
      expect(r.status, r.text).to.equal(202);
      expect(Date.now() - started).to.be.at.least(190);
      expect(await h.client.lrange(bq('waiting'), 0, -1)).to.include(id);
      expect(await h.client.hexists(bq('jobs'), id)).to.equal(1);
    });

    it('is a 404 for another key’s task (which stays failed)', async () => {
      const id = await submit({ task_type: 'debug.echo', options: { delay_s: 600 } });
      await h.client.hset(h.keys.task(id), 'status', 'failed');
      expectProblem(await call(h, 'POST', `/api/v1/tasks/${id}/retry`, { key: KEY_B }), 404);
      expect(await h.client.hmget(h.keys.task(id), 'status', 'gen')).to.deep.equal(['failed', '1']);
    });
  });

  describe('GET /api/v1/tasks', () => {
    it('pages the tenant’s tasks newest first over a batch (equal creation times) with no duplicates or gaps', async () => {
      await h.redis.flush();
      const batch = await call(h, 'POST', '/api/v1/tasks/batch', {
        body: { tasks: Array.from({ length: 26 }, (_, i) => ({ task_type: 'debug.echo', options: { delay_s: 600 }, metadata: { i } })) },
      });
      expect(batch.status, batch.text).to.equal(202);
      const later = await submit({ task_type: 'debug.sleep', task_data: { ms: 1 }, project_id: 'p9', options: { delay_s: 600 } });
      const submitted = [later, ...(batch.json.tasks as { task_id: string }[]).map((t) => t.task_id)];

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `?limit=10&cursor=${encodeURIComponent(cursor)}` : '?limit=10';
        const r = await call(h, 'GET', `/api/v1/tasks${q}`);
        expect(r.status, r.text).to.equal(200);
        const tasks = r.json.tasks as { task_id: string; status: string; callback_state: string }[];
        expect(tasks.length).to.be.at.most(10);
        seen.push(...tasks.map((t) => t.task_id));
        cursor = r.json.next_cursor as string | null;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).to.equal(3);
      expect(seen[0]).to.equal(later);
      expect(seen).to.have.length(27);
      expect([...seen].sort()).to.deep.equal([...submitted].sort());

      const filtered = await call(h, 'GET', '/api/v1/tasks?task_type=debug.sleep&project_id=p9&status=queued');
      expect((filtered.json.tasks as { task_id: string }[]).map((t) => t.task_id)).to.deep.equal([later]);
      expect(filtered.json.next_cursor).to.equal(null);
      const future = await call(h, 'GET', `/api/v1/tasks?since=${new Date(Date.now() + 60_000).toISOString()}`);
      expect(future.json).to.deep.equal({ tasks: [], next_cursor: null });
      expect(await h.client.zcard(tenantTasksKey(h.keys.prefix, tenantOf('key-alpha-0123456789')))).to.equal(27);
    });

    it('shows another key none of them', async () => {
      const r = await call(h, 'GET', '/api/v1/tasks', { key: KEY_B });
      expect(r.status).to.equal(200);
      expect(r.json).to.deep.equal({ tasks: [], next_cursor: null });
    });

    it('answers 400 naming the field for a bad status, since, limit, cursor or an unknown parameter', async () => {
      const cases: [string, string][] = [
        ['status=done', 'status'],
        ['since=yesterday', 'since'],
        ['limit=1.5', 'limit'],
        ['limit=0', 'limit'],
        ['limit=ten', 'limit'],
        ['cursor=%21%21', 'cursor'],
        ['colour=blue', 'colour'],
      ];
      for (const [q, field] of cases) {
        const p = expectProblem(await call(h, 'GET', `/api/v1/tasks?${q}`), 400);
        expect(p.code).to.equal('validation_failed');
        expect(fields(p), q).to.include(field);
      }
      expectProblem(await call(h, 'GET', '/api/v1/tasks', { key: null }), 401);
    });
  });
});
