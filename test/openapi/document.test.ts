import { expect } from 'chai';
import { z } from 'zod';
import { testConfig } from '../../src/config.js';
import { callbackPayloadSchema } from '../../src/delivery/payload.js';
import { buildOpenApiDocument } from '../../src/openapi/document.js';
import { HTTP_METHODS, type OpenApiDocument, type OperationObject } from '../../src/openapi/types.js';
import { defineTask } from '../../src/tasks/define.js';
import { createRegistry } from '../../src/tasks/registry.js';
import { EVENT_TYPES } from '../../src/webhooks/schemas.js';
import { registry } from '../../tasks/index.js';
import { resolvePointer, validate } from './json-schema.js';

function operations(items: Record<string, Record<string, unknown>>): { where: string; op: OperationObject }[] {
  return Object.entries(items).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => ({ where: `${m.toUpperCase()} ${path}`, op: item[m] as OperationObject })),
  );
}

/** Every `$ref` in the document, and every discriminator mapping target, with where it was found. */
function refs(node: unknown, at = '#', out: { at: string; ref: string }[] = []): { at: string; ref: string }[] {
  if (Array.isArray(node)) node.forEach((v, i) => refs(v, `${at}/${i}`, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ at, ref: v });
      else if (k === 'mapping' && v !== null && typeof v === 'object') for (const t of Object.values(v)) out.push({ at, ref: String(t) });
      else refs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

describe('openapi/document', () => {
  let doc: OpenApiDocument;
  before(() => {
    doc = buildOpenApiDocument({ registry, config: testConfig({ API_KEYS: 'k' }), metrics: true });
  });

  it('is an OpenAPI 3.1 document with info, paths, webhooks and components', () => {
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    expect(doc.info.title).to.equal('taskhook');
    expect(doc.info.version).to.match(/^\d+\.\d+\.\d+/);
    expect(Object.keys(doc.paths).length).to.be.greaterThan(20);
    for (const path of Object.keys(doc.paths)) expect(path, path).to.match(/^\//);
    // The document is plain JSON: it survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(doc))).to.deep.equal(doc);
  });

  it('resolves every $ref (and discriminator mapping) inside the document', () => {
    const all = refs(doc);
    expect(all.length).to.be.greaterThan(50);
    const broken = all.filter(({ ref }) => resolvePointer(doc, ref) === undefined);
    expect(broken, JSON.stringify(broken.slice(0, 5))).to.deep.equal([]);
  });

  it('gives every operation an operationId (unique), a summary, responses and a security requirement', () => {
    const ops = [...operations(doc.paths), ...operations(doc.webhooks), ...operations(doc.components.pathItems)];
    expect(ops.length).to.be.greaterThan(30);
    for (const { where, op } of ops) {
      expect(op.operationId, where).to.be.a('string').and.not.equal('');
      expect(op.summary, where).to.be.a('string').and.not.equal('');
      expect(Object.keys(op.responses), where).to.not.be.empty;
      expect(op.security, where).to.be.an('array');
      for (const status of Object.keys(op.responses)) expect(status, where).to.match(/^([1-5]\d\d|[1-5]XX|default)$/);
    }
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size, 'duplicate operationId').to.equal(ids.length);
  });

  it('declares every path template parameter as a required path parameter, and no other', () => {
    for (const { where, op } of operations(doc.paths)) {
      const path = where.split(' ')[1] as string;
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? [])
        .map((p) => ('$ref' in p ? (resolvePointer(doc, p.$ref) as { in: string; name: string; required?: boolean }) : p))
        .filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), where).to.deep.equal(inTemplate);
      for (const p of declared) expect(p.required, `${where} ${p.name}`).to.equal(true);
    }
  });

  it('describes errors as RFC 9457 problems with code and errors[], on every operation', () => {
    const bad = doc.components.responses.BadRequest;
    expect(bad?.content).to.have.key('application/problem+json');
    const problem = doc.components.schemas.Problem as { properties: Record<string, unknown>; required: string[] };
    expect(problem.properties).to.include.keys('type', 'title', 'status', 'detail', 'code', 'errors');
    expect(problem.required).to.include.members(['type', 'title', 'status', 'detail', 'code']);
    for (const { where, op } of operations(doc.paths)) {
      expect(op.responses, where).to.include.keys('405', '500');
      const keyed = op.security.length > 0;
      if (keyed) expect(op.responses, where).to.include.keys('401');
      // Every keyed route but the scrape is rate limited (GET /metrics must answer while Redis is down).
      if (keyed && where !== 'GET /metrics') expect(op.responses, where).to.include.keys('429', '503');
      if (where === 'GET /metrics') expect(op.responses, where).not.to.have.any.keys('429');
      if (op.requestBody) expect(op.responses, where).to.include.keys('400', '413', '415');
    }
  });

  it('lists every status code a route raises itself', () => {
    const codes = (path: string, method: string) => Object.keys((doc.paths[path] as Record<string, OperationObject>)[method]?.responses ?? {});
    expect(codes('/api/v1/tasks', 'post')).to.include.members(['202', '400', '401', '405', '409', '413', '415', '422', '429', '500', '503']);
    expect(codes('/api/v1/tasks/{task_id}', 'get')).to.include.members(['200', '404']);
    expect(codes('/api/v1/tasks/{task_id}/cancel', 'post')).to.include.members(['200', '202', '404', '409']);
    expect(codes('/api/v1/tasks/{task_id}/retry', 'post')).to.include.members(['202', '404', '409', '503']);
    expect(codes('/api/v1/files/{taskId}/{name}', 'get')).to.include.members(['200', '206', '404', '416']);
    expect(codes('/readyz', 'get')).to.include.members(['200', '503']);
    expect(codes('/readyz', 'get')).to.not.include('401');
  });

  it('declares both API key schemes and requires them on keyed routes only', () => {
    expect(doc.components.securitySchemes.ApiKey).to.deep.include({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(doc.components.securitySchemes.Bearer).to.deep.include({ type: 'http', scheme: 'bearer' });
    const get = (path: string) => (doc.paths[path] as Record<string, OperationObject>).get as OperationObject;
    expect(get('/api/v1/tasks/{task_id}').security).to.deep.equal([{ ApiKey: [] }, { Bearer: [] }]);
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect(get(path).security, path).to.deep.equal([]);
  });

  it('documents the headers: Location, Idempotency-Key, RateLimit-*, Retry-After, traceparent', () => {
    expect(doc.components.headers).to.include.keys('Location', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After', 'traceparent');
    expect(doc.components.parameters['Idempotency-Key']).to.include({ in: 'header', name: 'Idempotency-Key' });
    const submit = (doc.paths['/api/v1/tasks'] as Record<string, OperationObject>).post as OperationObject;
    expect(submit.parameters).to.deep.include({ $ref: '#/components/parameters/Idempotency-Key' });
    expect(submit.parameters).to.deep.include({ $ref: '#/components/parameters/traceparent' });
    expect(Object.keys((submit.responses['202'] as { headers: object }).headers)).to.include.members(['Location', 'RateLimit-Limit']);
    expect(Object.keys((doc.components.responses.TooManyRequests as { headers: object }).headers)).to.include('Retry-After');
  });

  it('leaves RateLimit-* and 429 out when rate limiting is off', () => {
    const off = buildOpenApiDocument({ registry, config: testConfig({ API_KEYS: 'k', RATE_LIMIT_PER_MIN: '0' }) });
    const op = (off.paths['/api/v1/tasks/{task_id}'] as Record<string, OperationObject>).get as OperationObject;
    expect(op.responses).to.not.have.key('429');
    expect(op.responses).to.include.keys('401');
    expect(off.paths).to.not.have.key('/metrics');
  });

  it('describes task_data per task type, as a oneOf keyed by task_type built from the registry', () => {
    const submission = doc.components.schemas.TaskSubmission as { oneOf: { $ref: string }[]; discriminator: { propertyName: string; mapping: Record<string, string> } };
    expect(submission.discriminator.propertyName).to.equal('task_type');
    expect(Object.keys(submission.discriminator.mapping).sort()).to.deep.equal(registry.names());
    expect(submission.oneOf).to.have.length(registry.names().length);
    const sleep = doc.components.schemas['TaskSubmission.debug.sleep'] as { properties: Record<string, unknown> };
    expect(sleep.properties.task_type).to.deep.include({ const: 'debug.sleep' });
    expect(sleep.properties.task_data).to.deep.equal({ $ref: '#/components/schemas/TaskData.debug.sleep' });
    // The definition's own schema, converted: `ms` is a required integer.
    expect(doc.components.schemas['TaskData.debug.sleep']).to.deep.include({ required: ['ms'] });

    const v = (body: unknown) => validate({ $ref: '#/components/schemas/TaskSubmission' }, body, doc);
    expect(v({ task_type: 'debug.sleep', task_data: { ms: 5 } })).to.deep.equal([]);
    expect(v({ task_type: 'debug.sleep', task_data: { ms: 'soon' } })).to.not.deep.equal([]);
    expect(v({ task_type: 'debug.sleep', task_data: { ms: 5 }, sticky: true })).to.not.deep.equal([]);
    expect(v({ task_type: 'no.such', task_data: {} })).to.not.deep.equal([]);
  });

  it('follows the registry it is given', () => {
    const only = defineTask({
      name: 'debug.only',
      queue: 'debug',
      input: z.strictObject({ colour: z.enum(['red', 'blue']) }),
      timeoutMs: 1000,
      handler: async () => ({}),
    });
    const small = buildOpenApiDocument({ registry: createRegistry([only]), config: testConfig({ API_KEYS: 'k' }) });
    expect(small.components.schemas['TaskData.debug.only']).to.deep.include({ required: ['colour'] });
    expect(small.components.schemas).to.not.have.key('TaskData.debug.sleep');
    const v = (body: unknown) => validate({ $ref: '#/components/schemas/TaskSubmission' }, body, small);
    expect(v({ task_type: 'debug.only', task_data: { colour: 'red' } })).to.deep.equal([]);
    expect(v({ task_type: 'debug.only', task_data: { colour: 'green' } })).to.not.deep.equal([]);
  });

  it('puts the callback payloads and every subscription event in the webhooks section', () => {
    expect(doc.webhooks).to.include.keys('task-callback', ...EVENT_TYPES, 'webhook.test');
    const callback = doc.components.pathItems.TaskCallback?.post as OperationObject;
    expect(callback.requestBody?.content['application/json']?.schema).to.deep.equal({ $ref: '#/components/schemas/CallbackPayload' });
    const headers = (callback.parameters ?? []).map((p) => ('$ref' in p ? (resolvePointer(doc, p.$ref) as { name: string }) : p).name);
    expect(headers).to.include.members(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    // A payload built the way the worker builds it validates against the document, and a wrong one does not.
    const payload = callbackPayloadSchema.parse({
      event: 'task.completed', task_id: 't1', project_id: null, task_type: 'debug.echo', status: 'completed',
      result: { a: 1 }, processing_time: 0.5, completed_at: new Date().toISOString(), metadata: {},
    });
    expect(validate({ $ref: '#/components/schemas/CallbackPayload' }, payload, doc)).to.deep.equal([]);
    expect(validate({ $ref: '#/components/schemas/CallbackPayload' }, { ...payload, status: 'failed' }, doc)).to.not.deep.equal([]);
    const started = { type: 'task.started', timestamp: new Date().toISOString(), data: { task_id: 't', task_type: 'x.y', project_id: null, status: 'running', metadata: {} } };
    expect(validate({ $ref: '#/components/schemas/TaskStartedEvent' }, started, doc)).to.deep.equal([]);
    expect(validate({ $ref: '#/components/schemas/TaskCompletedEvent' }, started, doc)).to.not.deep.equal([]);
  });
});
