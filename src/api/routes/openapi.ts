/**
 * `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs` (its HTML
 * rendering). Public, like /healthz. Both are built once, when the router is
 * created at start-up, and served from memory.
 */
import { Router } from '@koa/router';
import type { Metrics } from '../../metrics/metrics.js';
import { buildOpenApiDocument, type OpenApiOptions } from '../../openapi/document.js';
import { DOCS_CSP, renderReferenceHtml } from '../../openapi/html.js';
import type { TaskRegistry } from '../../tasks/registry.js';

export interface OpenApiRouteDeps {
  registry: TaskRegistry;
  config: OpenApiOptions['config'];
  /** When set, the app serves GET /metrics, so the document describes it. */
  metrics?: Metrics | undefined;
}

export function openapiRouter(deps: OpenApiRouteDeps): Router {
  const doc = buildOpenApiDocument({ registry: deps.registry, config: deps.config, metrics: deps.metrics !== undefined });
  const json = JSON.stringify(doc);
  const html = renderReferenceHtml(doc);
  const router = new Router();
  router.get('/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'application/json';
    ctx.body = json;
  });
  router.get('/docs', (ctx) => {
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  });
  return router;
}
