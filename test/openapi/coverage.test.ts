/**
 * The document describes exactly the routes the app serves: every route of
 * every @koa/router mounted on the real app (wired as the API process wires
 * it) against every operation of GET /openapi.json, both ways.
 */
import { expect } from 'chai';
import { UNDOCUMENTED_PREFIXES } from '../../src/openapi/operations.js';
import type { OpenApiDocument } from '../../src/openapi/types.js';
import { send, startTestApp, type TestApp } from './app.js';

interface RouterLayer {
  path: string | RegExp;
  methods: string[];
}

/** `METHOD /path/{param}` for every route layer of every router mounted on the app (HEAD dropped: it rides on GET). */
/** Under a prefix that is deliberately left out of the document (the dashboard UI). */
function undocumented(route: string): boolean {
  const path = route.split(' ')[1] ?? '';
  return UNDOCUMENTED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

function servedRoutes(app: { middleware: unknown[] }): string[] {
  const out = new Set<string>();
  for (const mw of app.middleware as { router?: { stack: RouterLayer[] } }[]) {
    for (const layer of mw.router?.stack ?? []) {
      // Router-level middleware (auth, rate limit) has no methods.
      if (layer.methods.length === 0) continue;
      if (typeof layer.path !== 'string') throw new Error(`a RegExp route cannot be checked: ${String(layer.path)}`);
      const path = layer.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      for (const method of layer.methods) if (method !== 'HEAD') out.add(`${method} ${path}`);
    }
  }
  return [...out].sort();
}

function documentedRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => k !== '$ref').map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('openapi/coverage: the document and the routers agree', () => {
  let t: TestApp;
  let doc: OpenApiDocument;

  before(async () => {
    t = await startTestApp();
    const res = await send(t, 'GET', '/openapi.json', { key: false });
    expect(res.status).to.equal(200);
    doc = res.json as OpenApiDocument;
  });
  after(async () => {
    await t?.close();
  });

  it('finds the routers of the app (the walk itself works)', () => {
    const served = servedRoutes(t.app);
    expect(served.length).to.be.greaterThan(25);
    expect(served).to.include.members(['GET /healthz', 'POST /api/v1/tasks', 'GET /api/v1/tasks/{task_id}', 'GET /api/v1/files/{taskId}/{name}', 'GET /metrics']);
  });

  it('describes every route the app serves', () => {
    const documented = new Set(documentedRoutes(doc));
    const missing = servedRoutes(t.app).filter((r) => !documented.has(r) && !undocumented(r));
    expect(missing, `served but not in /openapi.json: ${missing.join(', ')}`).to.deep.equal([]);
  });

  it('describes no route the app does not serve', () => {
    const served = new Set(servedRoutes(t.app));
    const extra = documentedRoutes(doc).filter((r) => !served.has(r));
    expect(documentedRoutes(doc).filter(undocumented)).to.deep.equal([]);
    expect(extra, `in /openapi.json but not served: ${extra.join(', ')}`).to.deep.equal([]);
  });

  it('answers 405 with Allow for an undocumented method on every documented path, as the document says', async () => {
    for (const [template, item] of Object.entries(doc.paths)) {
      const methods = Object.keys(item).map((m) => m.toUpperCase());
      if (methods.includes('PUT')) continue;
      const path = template.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await send(t, 'PUT', path, { key: false });
      expect(res.status, `PUT ${path}`).to.equal(405);
      expect(String(res.headers['content-type'])).to.match(/^application\/problem\+json/);
      const allow = String(res.headers.allow ?? '').split(/,\s*/);
      expect(allow, `Allow of ${path}`).to.include.members(methods);
      for (const op of Object.values(item)) if (typeof op === 'object') expect(op.responses, template).to.have.property('405');
    }
  });
});
