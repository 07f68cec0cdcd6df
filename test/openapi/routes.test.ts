/**
 * GET /openapi.json and GET /docs on the real app, and real requests and
 * answers checked against the document they are served with.
 */
import { expect } from 'chai';
import type { OpenApiDocument, OperationObject, ResponseObject } from '../../src/openapi/types.js';
import { send, startTestApp, type Answer, type TestApp } from './app.js';
import { resolvePointer, validate } from './json-schema.js';

function op(doc: OpenApiDocument, method: string, path: string): OperationObject {
  const found = (doc.paths[path] as Record<string, OperationObject> | undefined)?.[method];
  if (!found) throw new Error(`${method} ${path} is not in the document`);
  return found;
}

function deref<T>(doc: OpenApiDocument, x: unknown): T {
  const ref = (x as { $ref?: unknown }).$ref;
  return (typeof ref === 'string' ? resolvePointer(doc, ref) : x) as T;
}

/** Problems with `answer` as an answer of `method path`: undocumented status, media type, header or body shape. */
function checkAnswer(doc: OpenApiDocument, method: string, path: string, answer: Answer): string[] {
  const response = op(doc, method, path).responses[String(answer.status)];
  if (!response) return [`status ${answer.status} is not documented for ${method} ${path}`];
  const r = deref<ResponseObject>(doc, response);
  const errors: string[] = [];
  for (const name of Object.keys(r.headers ?? {})) {
    const required = ['Location'].includes(name);
    if (required && answer.headers[name.toLowerCase()] === undefined) errors.push(`header ${name} missing`);
  }
  const type = String(answer.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (!r.content) return answer.text === '' ? errors : [...errors, 'a body where none is documented'];
  const media = r.content[type];
  if (!media) return [...errors, `media type ${type} is not documented (${Object.keys(r.content).join(', ')})`];
  return [...errors, ...validate(media.schema, answer.json, doc)];
}

describe('openapi/routes: /openapi.json and /docs', () => {
  let t: TestApp;
  let doc: OpenApiDocument;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('serves the OpenAPI 3.1 document without an API key', async () => {
    const res = await send(t, 'GET', '/openapi.json', { key: false });
    expect(res.status).to.equal(200);
    expect(String(res.headers['content-type'])).to.match(/^application\/json/);
    doc = res.json as OpenApiDocument;
    expect(doc.openapi).to.match(/^3\.1\./);
    expect(doc.paths).to.include.keys('/api/v1/tasks', '/openapi.json', '/docs');
  });

  it('serves /docs without an API key: self-contained HTML with every path and a strict CSP', async () => {
    const res = await send(t, 'GET', '/docs', { key: false });
    expect(res.status).to.equal(200);
    expect(String(res.headers['content-type'])).to.match(/^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).to.include("default-src 'none'");
    expect(csp).to.not.match(/script-src|unsafe-eval|https?:/);
    expect(res.text).to.match(/^<!doctype html>/i);
    for (const path of Object.keys(doc.paths)) expect(res.text, path).to.include(`<code>${path}</code>`);
    for (const name of Object.keys(doc.webhooks)) expect(res.text, name).to.include(name);
    // Nothing is loaded from anywhere: no script, no external style sheet, image or font.
    expect(res.text).to.not.match(/<script|<link|<img|@import|url\(/i);
    expect(res.text).to.not.match(/(src|href)="(https?:)?\/\//i);
  });

  it('submits a task: the request and every answer match the document', async () => {
    const submit = op(doc, 'post', '/api/v1/tasks');
    const bodySchema = submit.requestBody?.content['application/json']?.schema ?? {};
    const body = { task_type: 'debug.sleep', task_data: { ms: 10 }, metadata: { order: 42 }, project_id: 'shop:eu-1', options: { retries: 1 } };
    expect(validate(bodySchema, body, doc)).to.deep.equal([]);

    const accepted = await send(t, 'POST', '/api/v1/tasks', { body });
    expect(accepted.status).to.equal(202);
    expect(checkAnswer(doc, 'post', '/api/v1/tasks', accepted)).to.deep.equal([]);
    // The check is real: a wrong body fails it.
    expect(checkAnswer(doc, 'post', '/api/v1/tasks', { ...accepted, json: { ...(accepted.json as object), task_id: 42 } })).to.not.deep.equal([]);

    const id = (accepted.json as { task_id: string }).task_id;
    expect(checkAnswer(doc, 'get', '/api/v1/tasks/{task_id}', await send(t, 'GET', `/api/v1/tasks/${id}`))).to.deep.equal([]);
    expect(checkAnswer(doc, 'get', '/api/v1/tasks', await send(t, 'GET', '/api/v1/tasks?limit=5'))).to.deep.equal([]);
    const cancelled = await send(t, 'POST', `/api/v1/tasks/${id}/cancel`);
    expect(cancelled.status).to.equal(200);
    expect(checkAnswer(doc, 'post', '/api/v1/tasks/{task_id}/cancel', cancelled)).to.deep.equal([]);
    const retried = await send(t, 'POST', `/api/v1/tasks/${id}/retry`);
    expect(retried.status).to.equal(202);
    expect(checkAnswer(doc, 'post', '/api/v1/tasks/{task_id}/retry', retried)).to.deep.equal([]);
  });

  it('describes the problem answers the routes really give', async () => {
    const bad = { task_type: 'debug.sleep', task_data: { ms: 'soon' }, sticky: true };
    expect(validate(op(doc, 'post', '/api/v1/tasks').requestBody?.content['application/json']?.schema ?? {}, bad, doc)).to.not.deep.equal([]);
    const invalid = await send(t, 'POST', '/api/v1/tasks', { body: bad });
    expect(invalid.status).to.equal(400);
    expect(checkAnswer(doc, 'post', '/api/v1/tasks', invalid)).to.deep.equal([]);
    expect((invalid.json as { errors: unknown[] }).errors).to.have.length.greaterThan(0);

    const noKey = await send(t, 'GET', '/api/v1/task-types', { key: false });
    expect(noKey.status).to.equal(401);
    expect(checkAnswer(doc, 'get', '/api/v1/task-types', noKey)).to.deep.equal([]);
    const missing = await send(t, 'GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000');
    expect(checkAnswer(doc, 'get', '/api/v1/tasks/{task_id}', missing)).to.deep.equal([]);
    const finished = await send(t, 'POST', '/api/v1/tasks/00000000-0000-4000-8000-000000000000/retry');
    expect(finished.status).to.equal(404);
    expect(checkAnswer(doc, 'post', '/api/v1/tasks/{task_id}/retry', finished)).to.deep.equal([]);
  });

  it('matches the other answers it describes (health, task types, webhooks)', async () => {
    expect(checkAnswer(doc, 'get', '/healthz', await send(t, 'GET', '/healthz', { key: false }))).to.deep.equal([]);
    expect(checkAnswer(doc, 'get', '/readyz', await send(t, 'GET', '/readyz', { key: false }))).to.deep.equal([]);
    expect(checkAnswer(doc, 'get', '/api/v1/task-types', await send(t, 'GET', '/api/v1/task-types'))).to.deep.equal([]);
    expect(checkAnswer(doc, 'get', '/api/v1/webhooks/event-types', await send(t, 'GET', '/api/v1/webhooks/event-types'))).to.deep.equal([]);
    const hook = { url: 'https://receiver.example/hook', events: ['task.completed'], filter: { task_types: ['debug.sleep'] } };
    expect(validate(op(doc, 'post', '/api/v1/webhooks').requestBody?.content['application/json']?.schema ?? {}, hook, doc)).to.deep.equal([]);
    const created = await send(t, 'POST', '/api/v1/webhooks', { body: hook });
    expect(created.status).to.equal(201);
    expect(checkAnswer(doc, 'post', '/api/v1/webhooks', created)).to.deep.equal([]);
    const id = (created.json as { id: string }).id;
    for (const path of [`/api/v1/webhooks`, `/api/v1/webhooks/${id}`, `/api/v1/webhooks/${id}/stats`, `/api/v1/webhooks/${id}/deliveries`, '/api/v1/deliveries']) {
      const template = path.replace(id, '{id}');
      expect(checkAnswer(doc, 'get', template, await send(t, 'GET', path)), path).to.deep.equal([]);
    }
  });
});
