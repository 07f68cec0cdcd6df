import { expect } from 'chai';
import { testConfig } from '../../src/config.js';
import { buildOpenApiDocument } from '../../src/openapi/document.js';
import { DOCS_CSP, escapeHtml, renderJson, renderReferenceHtml } from '../../src/openapi/html.js';
import type { OpenApiDocument } from '../../src/openapi/types.js';
import { registry } from '../../tasks/index.js';

describe('openapi/html', () => {
  let doc: OpenApiDocument;
  before(() => {
    doc = buildOpenApiDocument({ registry, config: testConfig({ API_KEYS: 'k' }) });
  });

  it('escapes markup', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('renders JSON readably, with $refs as links to the schema sections', () => {
    const html = renderJson({ type: 'object', properties: { a: { $ref: '#/components/schemas/Thing' } }, description: '<b>' });
    expect(html).to.include('<a href="#schema-Thing">&quot;#/components/schemas/Thing&quot;</a>');
    expect(html).to.include('&lt;b&gt;');
    expect(html).to.not.include('<b>');
    expect(html.split('\n').length).to.be.greaterThan(4);
  });

  it('renders every operation, webhook and schema, each with an anchor the links point at', () => {
    const html = renderReferenceHtml(doc);
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    expect(links.length).to.be.greaterThan(50);
    const dangling = links.filter((l) => !ids.has(l));
    expect(dangling).to.deep.equal([]);
    for (const item of [...Object.values(doc.paths), ...Object.values(doc.webhooks)]) {
      for (const op of Object.values(item)) if (typeof op === 'object') expect(ids.has(`op-${op.operationId}`), op.operationId).to.equal(true);
    }
    for (const name of Object.keys(doc.components.schemas)) expect(ids.has(`schema-${name}`), name).to.equal(true);
    expect(html).to.include('X-API-Key');
  });

  it('never lets text from the document become markup', () => {
    const hostile: OpenApiDocument = JSON.parse(JSON.stringify(doc)) as OpenApiDocument;
    hostile.info.description = '<script>alert(1)</script>';
    const get = hostile.paths['/healthz']?.get;
    if (!get) throw new Error('no GET /healthz');
    get.summary = '"><img src=x onerror=alert(1)>';
    const html = renderReferenceHtml(hostile);
    expect(html).to.not.include('<script>');
    expect(html).to.not.include('<img');
    expect(html).to.include('&lt;script&gt;');
  });

  it('is allowed by its own CSP: inline style only, nothing else', () => {
    expect(DOCS_CSP).to.include("default-src 'none'");
    expect(DOCS_CSP).to.include("style-src 'unsafe-inline'");
    expect(renderReferenceHtml(doc)).to.not.match(/<script|\son[a-z]+=|style="/i);
  });
});
