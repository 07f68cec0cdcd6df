import { Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import { KEY_A, call, expectProblem, fields, startApi, type Harness, type Reply } from './harness.js';

describe('api: JSON request bodies', () => {
  let h: Harness;
  before(async () => {
    h = await startApi({ MAX_BODY_BYTES: '2048' });
  });
  after(async () => {
    await h.close();
  });
  afterEach(async () => {
    // Nothing a refused body says may be queued.
    expect(await h.client.keys(`${h.keys.prefix}:task:*`)).to.deep.equal([]);
  });

  const big = (n: number) => JSON.stringify({ task_type: 'debug.echo', task_data: { pad: 'x'.repeat(n) } });

  it('413 when Content-Length declares too much', async () => {
    const p = expectProblem(await call(h, 'POST', '/api/v1/tasks', { body: big(3000) }), 413);
    expect(p.code).to.equal('payload_too_large');
    expect(p.limit_bytes).to.equal(2048);
  });

  it('413 for a chunked body that grows past the limit, while streaming', async () => {
    let sent = 0;
    // Endless: only a limit enforced while streaming can answer it.
    const body = new Readable({
      read() {
        sent += 1024;
        this.push(sent === 1024 ? '{"task_type":"debug.echo","task_data":{"pad":"' : 'x'.repeat(1024));
        if (sent > 10_000_000) this.push(null);
      },
    });
    let r: Reply;
    try {
      const res = await request(`${h.base}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'x-api-key': KEY_A, 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      r = { status: res.statusCode, headers: res.headers, text, json: JSON.parse(text) as Record<string, unknown> };
    } finally {
      body.destroy();
    }
    expect(expectProblem(r, 413).code).to.equal('payload_too_large');
    expect(sent).to.be.below(10_000_000);
  });

  it('415 without Content-Type: application/json', async () => {
    const json = JSON.stringify({ task_type: 'debug.echo' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const r = await call(h, 'POST', '/api/v1/tasks', { body: json, headers: { 'content-type': type } });
      expect(expectProblem(r, 415).code).to.equal('unsupported_media_type');
    }
    const none = await request(`${h.base}/api/v1/tasks`, { method: 'POST', headers: { 'x-api-key': KEY_A }, body: json });
    expect(none.statusCode).to.equal(415);
    await none.body.text();
    const withCharset = await call(h, 'POST', '/api/v1/tasks', {
      body: '{"task_type":"nope"}',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
    });
    expect(withCharset.status).to.equal(400);
  });

  it('415 for a charset other than UTF-8, however it is spelled; never decoded as UTF-8', async () => {
    // Valid UTF-8 and valid JSON: only the declared charset can make it a 415.
    const json = JSON.stringify({ task_type: 'debug.echo' });
    for (const type of [
      'application/json; charset=utf-16',
      'application/json; charset=UTF-16LE',
      'application/json;charset="ISO-8859-1"',
      'application/json; charset=us-ascii',
      'application/json; charset=',
      'application/json; foo=bar; charset=utf-16',
      'application/json; charset=utf-8; charset=utf-16',
    ]) {
      const r = await call(h, 'POST', '/api/v1/tasks', { body: json, headers: { 'content-type': type } });
      const p = expectProblem(r, 415);
      expect(p.code, type).to.equal('unsupported_media_type');
      expect(String(p.detail), type).to.include('UTF-8');
    }
    // `utf8` is not a registered name, but clients send it meaning UTF-8.
    for (const type of ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;CHARSET=Utf-8', 'application/json; charset=utf8']) {
      const r = await call(h, 'POST', '/api/v1/tasks', { body: '{"task_type":"nope"}', headers: { 'content-type': type } });
      expect(r.status, type).to.equal(400);
    }
  });

  it('invalid JSON, an empty body and invalid UTF-8 → 400 naming body', async () => {
    for (const body of ['{"task_type": ', '', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]) {
      const p = expectProblem(await call(h, 'POST', '/api/v1/tasks', { body }), 400);
      expect(fields(p)).to.deep.equal(['body']);
    }
  });

  it('__proto__, constructor and prototype keys anywhere → 400 naming the path; nothing is polluted', async () => {
    const cases: [string, string][] = [
      ['{"task_type":"debug.echo","__proto__":{"polluted":"yes"}}', '__proto__'],
      ['{"task_type":"debug.echo","task_data":{"a":[{"__proto__":{"polluted":"yes"}}]}}', 'task_data.a.0.__proto__'],
      ['{"task_type":"debug.echo","metadata":{"constructor":{"prototype":{"polluted":"yes"}}}}', 'metadata.constructor'],
      ['{"tasks":[{"task_type":"debug.echo","task_data":{"prototype":1}}]}', 'tasks.0.task_data.prototype'],
      // Spelled with \u escapes: JSON.parse decodes them to the same names.
      ['{"task_type":"debug.echo","metadata":{"\\u005f_proto__":{"polluted":"yes"}}}', 'metadata.__proto__'],
      ['{"task_type":"debug.echo","task_data":{"constr\\u0075ctor":1}}', 'task_data.constructor'],
    ];
    for (const [body, field] of cases) {
      const path = body.startsWith('{"tasks"') ? '/api/v1/tasks/batch' : '/api/v1/tasks';
      const p = expectProblem(await call(h, 'POST', path, { body }), 400);
      expect(fields(p)).to.deep.equal([field]);
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('deeply nested JSON is a 400, not a crash', async () => {
    const deep = `{"task_type":"debug.echo","metadata":${'['.repeat(900)}${']'.repeat(900)}}`;
    const r = await call(h, 'POST', '/api/v1/tasks', { body: deep });
    expect(fields(expectProblem(r, 400))).to.deep.equal(['metadata']);
  });
});
