import { expect } from 'chai';
import { TASK_DATA_MAX_DEPTH } from '../../src/api/schemas.js';
import { registry } from '../../tasks/index.js';
import { KEY_A, KEY_B, call, expectProblem, fields, startApi, type Harness } from './harness.js';

describe('api: task routes', () => {
  let h: Harness;
  before(async () => {
    h = await startApi({ METADATA_MAX_BYTES: '200', METADATA_MAX_DEPTH: '3' });
  });
  after(async () => {
    await h.close();
  });
  beforeEach(async () => {
    await h.client.flushall();
  });

  const waiting = (queue: string) => h.client.lrange(`${h.keys.bq}:${queue}:waiting`, 0, -1);
  const taskKeys = () => h.client.keys(`${h.keys.prefix}:task:*`);

  describe('POST /api/v1/tasks', () => {
    it('answers 202 with Location, and writes the record and a waiting job whose id is the task id', async () => {
      const before = Date.now();
      const r = await call(h, 'POST', '/api/v1/tasks', {
        body: {
          task_type: 'debug.sleep',
          task_data: { ms: 5 },
          callback_url: 'https://receiver.example/hook?token=abc',
          metadata: { order: 42, tags: ['a'] },
          project_id: 'proj:1.a-b_c',
          options: { timeout_s: 30, retries: 2 },
        },
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      });
      expect(r.status, r.text).to.equal(202);
      const id = r.json.task_id as string;
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      expect(r.headers.location).to.equal(`/api/v1/tasks/${id}`);
      expect(r.json).to.include({ status: 'queued', task_type: 'debug.sleep' });
      expect(Date.parse(r.json.created_at as string)).to.be.at.least(before - 1000);

      const rec = await h.client.hgetall(h.keys.task(id));
      expect(rec).to.include({
        id,
        type: 'debug.sleep',
        queue: 'debug',
        status: 'queued',
        project: 'proj:1.a-b_c',
        cb: 'https://receiver.example/hook?token=abc',
        progress: '0',
        runs: '0',
        lost: '0',
        gen: '1',
        trace: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      expect(rec.tenant).to.match(/^[0-9a-f]{16}$/);
      expect(JSON.parse(rec.data as string)).to.deep.equal({ ms: 5 });
      expect(JSON.parse(rec.meta as string)).to.deep.equal({ order: 42, tags: ['a'] });
      expect(JSON.parse(rec.opts as string)).to.deep.equal({ timeout_s: 30, retries: 2 });
      expect(Number(rec.created)).to.equal(Date.parse(r.json.created_at as string));

      expect(await waiting('debug')).to.deep.equal([id]);
      const job = JSON.parse((await h.client.hget(`${h.keys.bq}:debug:jobs`, id)) as string);
      expect(job.data).to.deep.equal({});
      expect(job.options.retries).to.equal(2);
      expect(job.options.backoff).to.deep.equal({ strategy: 'exponential', delay: 1000 });
    });

    it('the /submit alias does the same; delay_s makes a delayed job', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks/submit', { body: { task_type: 'debug.echo', options: { delay_s: 60 } } });
      expect(r.status, r.text).to.equal(202);
      const id = r.json.task_id as string;
      expect(await h.client.hget(h.keys.task(id), 'status')).to.equal('queued');
      expect(await waiting('debug')).to.deep.equal([]);
      const score = await h.client.zscore(`${h.keys.bq}:debug:delayed`, id);
      expect(Number(score)).to.be.within(Date.now() + 55_000, Date.now() + 61_000);
    });

    it('unknown task_type → 400 listing the known types', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'video.nope' } });
      const p = expectProblem(r, 400);
      expect(p.code).to.equal('validation_failed');
      expect(fields(p)).to.deep.equal(['task_type']);
      expect(p.known_task_types).to.include.members(['debug.echo', 'debug.fail', 'debug.sleep']);
      expect(await taskKeys()).to.deep.equal([]);
    });

    it('task_data failing the task schema → 400 naming task_data.<field>', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.sleep', task_data: { ms: 'soon' } } });
      expect(fields(expectProblem(r, 400))).to.deep.equal(['task_data.ms']);
      const missing = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.sleep' } });
      expect(fields(expectProblem(missing, 400))).to.deep.equal(['task_data.ms']);
      expect(await taskKeys()).to.deep.equal([]);
    });

    it('unknown top-level or options fields → 400 naming each', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks', {
        body: { task_type: 'debug.echo', priority: 5, options: { timeout_s: 0, retries: 11, sticky: true } },
      });
      expect(fields(expectProblem(r, 400))).to.have.members(['priority', 'options.timeout_s', 'options.retries', 'options.sticky']);
    });

    it('rejects bad callback_url, project_id and non-object bodies, never with a 500', async () => {
      const cases: [unknown, string][] = [
        [{ task_type: 'debug.echo', callback_url: 'ftp://x.example/' }, 'callback_url'],
        [{ task_type: 'debug.echo', callback_url: '/relative' }, 'callback_url'],
        [{ task_type: 'debug.echo', callback_url: `https://x.example/${'a'.repeat(2048)}` }, 'callback_url'],
        [{ task_type: 'debug.echo', callback_url: 'http://internal.test/hook' }, 'callback_url'],
        [{ task_type: 'debug.echo', callback_url: 'http://169.254.169.254/latest' }, 'callback_url'],
        [{ task_type: 'debug.echo', project_id: 'has space' }, 'project_id'],
        [{ task_type: 'debug.echo', project_id: 'p'.repeat(129) }, 'project_id'],
        [{ task_type: 'debug.echo', task_data: [1, 2] }, 'task_data'],
        [{ task_type: 7 }, 'task_type'],
        [[1, 2], 'body'],
        ['"just a string"', 'body'],
      ];
      for (const [body, field] of cases) {
        const r = await call(h, 'POST', '/api/v1/tasks', { body });
        expect(fields(expectProblem(r, 400)), JSON.stringify(body).slice(0, 80)).to.include(field);
      }
      expect(await taskKeys()).to.deep.equal([]);
    });

    it('metadata too big or too deep → 400 naming metadata; within limits it is echoed untouched', async () => {
      const big = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo', metadata: { s: 'x'.repeat(300) } } });
      expect(fields(expectProblem(big, 400))).to.deep.equal(['metadata']);
      const deep = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo', metadata: { a: { b: { c: {} } } } } });
      expect(fields(expectProblem(deep, 400))).to.deep.equal(['metadata']);
      const meta = { a: { b: [1, 'é', null] }, n: 1.5 };
      const ok = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo', metadata: meta } });
      expect(ok.status, ok.text).to.equal(202);
      const view = await call(h, 'GET', `/api/v1/tasks/${String(ok.json.task_id)}`);
      expect(view.json.metadata).to.deep.equal(meta);
    });
    it('task_data nested past TASK_DATA_MAX_DEPTH → 400 naming task_data, never a 500; at the limit it is queued', async () => {
      // ~5,000 levels in ~10 KB: parses fine, but serialising it recursively overflows the stack.
      const hostile = `{"task_type":"debug.echo","task_data":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
      const r = await call(h, 'POST', '/api/v1/tasks', { body: hostile });
      expect(fields(expectProblem(r, 400))).to.deep.equal(['task_data']);
      // One level past the limit (the task_data object itself is level 1).
      const nest = (levels: number): unknown => {
        let v: unknown = {};
        for (let i = 1; i < levels; i += 1) v = { n: v };
        return v;
      };
      const over = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo', task_data: nest(TASK_DATA_MAX_DEPTH + 1) } });
      expect(fields(expectProblem(over, 400))).to.deep.equal(['task_data']);
      expect(await taskKeys()).to.deep.equal([]);
      const at = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo', task_data: nest(TASK_DATA_MAX_DEPTH) } });
      expect(at.status, at.text).to.equal(202);
    });
  });

  describe('POST /api/v1/tasks/batch', () => {
    it('queues every task; top-level callback_url and metadata fill in where a task gives none', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks/batch', {
        body: {
          callback_url: 'https://shared.example/cb',
          metadata: { batch: 1 },
          tasks: [
            { task_type: 'debug.echo' },
            { task_type: 'debug.sleep', task_data: { ms: 1 }, callback_url: 'https://own.example/cb', metadata: { own: true } },
            { task_type: 'debug.fail', options: { delay_s: 30 } },
          ],
        },
      });
      expect(r.status, r.text).to.equal(202);
      const tasks = r.json.tasks as { task_id: string; status: string }[];
      expect(tasks).to.have.length(3);
      expect(tasks.every((t) => t.status === 'queued')).to.equal(true);
      const [a, b, c] = await Promise.all(tasks.map((t) => h.client.hgetall(h.keys.task(t.task_id))));
      expect(a).to.include({ type: 'debug.echo', cb: 'https://shared.example/cb', meta: '{"batch":1}', status: 'queued' });
      expect(b).to.include({ type: 'debug.sleep', cb: 'https://own.example/cb', meta: '{"own":true}' });
      expect(c).to.include({ type: 'debug.fail', cb: 'https://shared.example/cb' });
      expect(await waiting('debug')).to.have.members([tasks[0]?.task_id, tasks[1]?.task_id]);
      expect(await h.client.zscore(`${h.keys.bq}:debug:delayed`, tasks[2]?.task_id as string)).to.not.equal(null);
    });

    it('one invalid element → 400 naming tasks.N.… and nothing is queued', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks/batch', {
        body: {
          tasks: [
            { task_type: 'debug.echo' },
            { task_type: 'debug.echo' },
            { task_type: 'debug.echo' },
            { task_type: 'debug.sleep', task_data: { ms: -1 } },
            { task_type: 'debug.unknown' },
            { task_type: 'debug.echo', extra: 1 },
          ],
        },
      });
      const p = expectProblem(r, 400);
      expect(fields(p)).to.have.members(['tasks.3.task_data.ms', 'tasks.4.task_type', 'tasks.5.extra']);
      expect(p.known_task_types).to.be.an('array');
      expect(await taskKeys()).to.deep.equal([]);
      expect(await waiting('debug')).to.deep.equal([]);
    });

    it('deeply nested task_data in an element → 400 naming tasks.N.task_data, never a 500', async () => {
      const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const body = `{"tasks":[{"task_type":"debug.echo"},{"task_type":"debug.echo","task_data":${deep}}]}`;
      const r = await call(h, 'POST', '/api/v1/tasks/batch', { body });
      expect(fields(expectProblem(r, 400))).to.deep.equal(['tasks.1.task_data']);
      expect(await taskKeys()).to.deep.equal([]);
    });

    it('a bad envelope and bad elements are named in one answer', async () => {
      const r = await call(h, 'POST', '/api/v1/tasks/batch', {
        body: {
          metadata: 5,
          callback_url: 'http://internal.test/hook',
          when: 'now',
          tasks: [{ task_type: 'debug.echo' }, { task_type: 'debug.sleep', task_data: { ms: -1 } }, { task_type: 'debug.unknown' }],
        },
      });
      const p = expectProblem(r, 400);
      expect(fields(p)).to.have.members(['metadata', 'callback_url', 'when', 'tasks.1.task_data.ms', 'tasks.2.task_type']);
      expect(p.known_task_types).to.be.an('array');
      expect(await taskKeys()).to.deep.equal([]);
    });

    it('refuses empty and oversized batches and unknown envelope fields', async () => {
      expect(fields(expectProblem(await call(h, 'POST', '/api/v1/tasks/batch', { body: { tasks: [] } }), 400))).to.deep.equal(['tasks']);
      const many = Array.from({ length: 101 }, () => ({ task_type: 'debug.echo' }));
      expect(fields(expectProblem(await call(h, 'POST', '/api/v1/tasks/batch', { body: { tasks: many } }), 400))).to.deep.equal([
        'tasks',
      ]);
      const odd = await call(h, 'POST', '/api/v1/tasks/batch', { body: { tasks: [{ task_type: 'debug.echo' }], when: 'now' } });
      expect(fields(expectProblem(odd, 400))).to.deep.equal(['when']);
      expect(await taskKeys()).to.deep.equal([]);
    });
  });

  it('GET /api/v1/task-types lists the registry', async () => {
    const r = await call(h, 'GET', '/api/v1/task-types');
    const types = r.json.task_types as { name: string; queue: string; timeout_s: number }[];
    expect(types.map((t) => t.name)).to.deep.equal(registry.names()).and.to.include.members(['debug.echo', 'debug.sleep']);
    expect(types.find((t) => t.name === 'debug.sleep')).to.include({ queue: 'debug', timeout_s: 3600 });
    expectProblem(await call(h, 'GET', '/api/v1/task-types', { key: null }), 401);
  });

  describe('GET /api/v1/tasks/{id}', () => {
    it('renders a queued task', async () => {
      const s = await call(h, 'POST', '/api/v1/tasks', {
        body: { task_type: 'debug.echo', callback_url: 'https://hook.example/cb?sig=1', project_id: 'p1', metadata: { m: 1 } },
      });
      const r = await call(h, 'GET', `/api/v1/tasks/${String(s.json.task_id)}`);
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.deep.equal({
        task_id: s.json.task_id,
        task_type: 'debug.echo',
        project_id: 'p1',
        status: 'queued',
        progress: 0,
        created_at: s.json.created_at,
        started_at: null,
        completed_at: null,
        processing_time: null,
        metadata: { m: 1 },
        callback: { url: 'https://hook.example/cb', state: 'pending', attempts: [] },
      });
      const bare = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo' } });
      const view = await call(h, 'GET', `/api/v1/tasks/${String(bare.json.task_id)}`);
      expect(view.json).to.deep.include({ project_id: null, metadata: {}, callback: { url: null, state: 'none', attempts: [] } });
    });

    it('renders a completed task with its delivery attempts, the URL stripped of credentials and query', async () => {
      const s = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo' } });
      const id = s.json.task_id as string;
      const dlv = `${id}.1`;
      await h.client.hset(h.keys.task(id), {
        status: 'completed',
        cb: 'https://user:secret@hooks.example:8443/in/cb?token=t0p#frag',
        started: '1700000000000',
        finished: '1700000002500',
        progress: '100',
        result: JSON.stringify({ ok: true, n: [1, 2] }),
        dlv,
      });
      await h.client.hset(h.keys.delivery(dlv), { id: dlv, task: id, state: 'delivered', n: '2' });
      await h.client.rpush(
        h.keys.attempts(dlv),
        JSON.stringify({ n: 1, at: '2023-11-14T22:13:22.600Z', status_code: 503, duration_ms: 12, error: 'HTTP 503', outcome: 'retry' }),
        JSON.stringify({ n: 2, at: '2023-11-14T22:13:23.700Z', status_code: 200, duration_ms: 9, error: null, outcome: 'delivered' }),
      );
      const r = await call(h, 'GET', `/api/v1/tasks/${id}`);
      expect(r.status, r.text).to.equal(200);
      expect(r.json).to.include({ status: 'completed', progress: 100, processing_time: 2.5 });
      expect(r.json.result).to.deep.equal({ ok: true, n: [1, 2] });
      expect(r.json).to.not.have.property('error');
      expect(r.json.started_at).to.equal('2023-11-14T22:13:20.000Z');
      expect(r.json.completed_at).to.equal('2023-11-14T22:13:22.500Z');
      expect(r.json.callback).to.deep.equal({
        url: 'https://hooks.example:8443/in/cb',
        state: 'delivered',
        attempts: [
          { n: 1, at: '2023-11-14T22:13:22.600Z', status_code: 503, duration_ms: 12, error: 'HTTP 503', outcome: 'retry' },
          { n: 2, at: '2023-11-14T22:13:23.700Z', status_code: 200, duration_ms: 9, error: null, outcome: 'delivered' },
        ],
      });
      expect(r.text).to.not.include('secret').and.not.include('t0p');
    });

    it('renders a failed task whose current delivery is a later generation', async () => {
      const s = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.fail' } });
      const id = s.json.task_id as string;
      const dlv = `${id}.2`;
      await h.client.hset(h.keys.task(id), {
        status: 'failed',
        cb: 'http://127.0.0.1:9/cb',
        gen: '2',
        started: '1700000000000',
        finished: '1700000000100',
        error: JSON.stringify({ error: 'boom', error_type: 'kaput', traceback: 'Error: boom\n    at x' }),
        dlv,
      });
      await h.client.hset(h.keys.delivery(dlv), { id: dlv, state: 'failed' });
      await h.client.rpush(h.keys.attempts(dlv), JSON.stringify({ n: 1, at: 'x', status_code: null, duration_ms: 30000, error: 'timeout' }));
      const r = await call(h, 'GET', `/api/v1/tasks/${id}`);
      expect(r.json).to.include({ status: 'failed', processing_time: 0.1 });
      expect(r.json.error).to.deep.equal({ message: 'boom', error_type: 'kaput', traceback: 'Error: boom\n    at x' });
      expect(r.json).to.not.have.property('result');
      expect(r.json.callback).to.deep.include({ url: 'http://127.0.0.1:9/cb', state: 'failed' });
      expect((r.json.callback as { attempts: unknown[] }).attempts).to.have.length(1);
    });

    it("another tenant's task and an unknown id are the same 404", async () => {
      const s = await call(h, 'POST', '/api/v1/tasks', { body: { task_type: 'debug.echo' } });
      const mine = await call(h, 'GET', `/api/v1/tasks/${String(s.json.task_id)}`, { key: KEY_A });
      expect(mine.status).to.equal(200);
      const other = await call(h, 'GET', `/api/v1/tasks/${String(s.json.task_id)}`, { key: KEY_B });
      const unknown = await call(h, 'GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000', { key: KEY_B });
      const garbage = await call(h, 'GET', '/api/v1/tasks/..%2f..%2fetc', { key: KEY_B });
      expect(expectProblem(other, 404)).to.deep.equal(expectProblem(unknown, 404));
      expect(expectProblem(garbage, 404).code).to.equal('not_found');
    });
  });
});
