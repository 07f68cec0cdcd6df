/**
 * `renderReferenceHtml(doc)`: the API reference served at `/docs`, one
 * self-contained HTML page rendered on the server from the OpenAPI
 * document. No script, no external style sheet, font or image, so it works
 * offline and under `default-src 'none'; style-src 'unsafe-inline'`.
 * Everything taken from the document is escaped.
 */
import {
  HTTP_METHODS,
  type OpenApiDocument,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
  type Reference,
  type ResponseObject,
} from './types.js';

/** Served with the page; the page needs nothing else. */
export const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** `#/components/<kind>/<name>` → the id of its section on the page. */
function anchorOf(ref: string): string | null {
  const m = /^#\/components\/(schemas|pathItems)\/(.+)$/.exec(ref);
  return m ? `${m[1] === 'schemas' ? 'schema' : 'pathitem'}-${m[2]}` : null;
}

/** `code` spans for `backticked` words; the rest escaped. Paragraphs on blank lines. */
function prose(text: string | undefined): string {
  if (!text) return '';
  return text
    .split(/\n{2,}/)
    .map((para) => `<p>${escapeHtml(para).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('');
}

/** Pretty JSON as HTML, with every `$ref` a link to the schema it names. */
export function renderJson(value: unknown, indent = ''): string {
  const next = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => next + renderJson(v, next)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([k, v]) => {
      const key = `<span class="k">${escapeHtml(JSON.stringify(k))}</span>`;
      const anchor = k === '$ref' && typeof v === 'string' ? anchorOf(v) : null;
      const rendered = anchor ? `<a href="#${escapeHtml(anchor)}">${escapeHtml(JSON.stringify(v))}</a>` : renderJson(v, next);
      return `${next}${key}: ${rendered}`;
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return escapeHtml(JSON.stringify(value) ?? 'null');
}

function isRef(x: unknown): x is Reference {
  return typeof x === 'object' && x !== null && typeof (x as Reference).$ref === 'string';
}

/** Follows a local `$ref` (`#/a/b/c`) within the document. */
function resolve<T>(doc: OpenApiDocument, x: T | Reference): T {
  if (!isRef(x)) return x;
  let node: unknown = doc;
  for (const part of x.$ref.replace(/^#\//, '').split('/')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node as T;
}

function link(anchor: string, text: string): string {
  return `<a href="#${escapeHtml(anchor)}">${escapeHtml(text)}</a>`;
}

function article(id: string, title: string, body: string): string {
  return `<article id="${escapeHtml(id)}"><h3>${title}</h3>${body}</article>`;
}

function schemaBlock(schema: unknown): string {
  return `<pre>${renderJson(schema)}</pre>`;
}

function parametersTable(doc: OpenApiDocument, params: (ParameterObject | Reference)[] | undefined): string {
  if (!params || params.length === 0) return '';
  const rows = params.map((raw) => {
    const p = resolve<ParameterObject>(doc, raw);
    return `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td>` +
      `<td>${prose(p.description)}<pre>${renderJson(p.schema)}</pre></td></tr>`;
  });
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>${rows.join('')}</table>`;
}

function responsesTable(doc: OpenApiDocument, responses: Record<string, ResponseObject | Reference>): string {
  const rows = Object.entries(responses).map(([status, raw]) => {
    const r = resolve<ResponseObject>(doc, raw);
    const description = isRef(raw) && raw.description ? raw.description : r.description;
    const headers = Object.keys(r.headers ?? {});
    const content = Object.entries(r.content ?? {})
      .map(([type, media]) => `<div><code>${escapeHtml(type)}</code>${schemaBlock(media.schema)}</div>`)
      .join('');
    return `<tr><td><b>${escapeHtml(status)}</b></td><td>${prose(description)}` +
      `${headers.length > 0 ? `<p class="h">Headers: ${headers.map((h) => `<code>${escapeHtml(h)}</code>`).join(', ')}</p>` : ''}${content}</td></tr>`;
  });
  return `<h4>Responses</h4><table><tr><th>status</th><th>answer</th></tr>${rows.join('')}</table>`;
}

function operationHtml(doc: OpenApiDocument, method: string, path: string, op: OperationObject, id: string): string {
  const auth = op.security.length === 0 ? 'none' : op.security.map((s) => Object.keys(s).join(' + ')).join(' or ');
  const body = op.requestBody
    ? `<h4>Request body</h4>${Object.entries(op.requestBody.content)
        .map(([type, media]) => `<div><code>${escapeHtml(type)}</code>${schemaBlock(media.schema)}</div>`)
        .join('')}`
    : '';
  const callbacks = op.callbacks
    ? `<p class="h">Callbacks: ${Object.values(op.callbacks)
        .flatMap((c) => Object.entries(c))
        .map(([expr, item]) => `<code>${escapeHtml(expr)}</code> → ${isRef(item) ? link(anchorOf(item.$ref) ?? '', item.$ref) : 'inline'}`)
        .join(', ')}</p>`
    : '';
  const title = `<span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code>`;
  const head = `<p><b>${escapeHtml(op.summary)}</b> <span class="h">(${escapeHtml(op.operationId)}; auth: ${escapeHtml(auth)})</span></p>`;
  return article(id, title, head + prose(op.description) + parametersTable(doc, op.parameters) + body + responsesTable(doc, op.responses) + callbacks);
}

function operationsOf(doc: OpenApiDocument, items: Record<string, PathItemObject>): { tag: string; html: string; id: string; label: string }[] {
  const out: { tag: string; html: string; id: string; label: string }[] = [];
  for (const [path, rawItem] of Object.entries(items)) {
    const item = resolve<PathItemObject>(doc, rawItem as PathItemObject | Reference);
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const id = `op-${op.operationId}`;
      out.push({ tag: op.tags[0] ?? 'Other', id, label: `${method.toUpperCase()} ${path}`, html: operationHtml(doc, method, path, op, id) });
    }
  }
  return out;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff;display:flex}
nav{width:290px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;border-right:1px solid #ddd;padding:12px;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#0550ae;text-decoration:none;padding:1px 0}nav h2{font-size:13px;margin:12px 0 4px}
main{flex:1;min-width:0;padding:16px 32px;max-width:1100px}
article{border-top:1px solid #ddd;padding:8px 0 16px}
code,pre{font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f6f8fa;padding:8px;overflow:auto;margin:4px 0}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.m{display:inline-block;min-width:58px;text-align:center;color:#fff;border-radius:4px;padding:0 6px;font-size:13px}
.get{background:#1a7f37}.post{background:#0969da}.patch{background:#9a6700}.delete{background:#cf222e}.put{background:#8250df}
.h{color:#59636e;font-size:13px}.k{color:#953800}a{color:#0550ae}
`;

/** The whole page. Pure: same document, same bytes. */
export function renderReferenceHtml(doc: OpenApiDocument): string {
  const ops = operationsOf(doc, doc.paths);
  const hooks = operationsOf(doc, doc.webhooks).map((o) => ({ ...o, tag: 'Callbacks and events' }));
  const all = [...ops, ...hooks];
  const tags = doc.tags.filter((t) => all.some((o) => o.tag === t.name));
  const sections = tags.map((t) => {
    const mine = all.filter((o) => o.tag === t.name);
    return `<section id="tag-${escapeHtml(t.name)}"><h2>${escapeHtml(t.name)}</h2>${prose(t.description)}${mine.map((o) => o.html).join('')}</section>`;
  });
  const nav = tags
    .map((t) => `<h2>${escapeHtml(t.name)}</h2>${all.filter((o) => o.tag === t.name).map((o) => link(o.id, o.label)).join('')}`)
    .join('');
  const schemaNames = Object.keys(doc.components.schemas);
  const schemas = schemaNames.map((name) => article(`schema-${name}`, escapeHtml(name), schemaBlock(doc.components.schemas[name])));
  const pathItems = Object.entries(doc.components.pathItems).map(
    ([name, item]) => article(`pathitem-${name}`, escapeHtml(name), `<p>See ${link(`op-${item.post?.operationId ?? ''}`, item.post?.summary ?? name)}.</p>`),
  );
  const schemaNav = schemaNames.map((n) => link(`schema-${n}`, n)).join('');
  const security = Object.entries(doc.components.securitySchemes)
    .map(([name, s]) => `<li><b>${escapeHtml(name)}</b>: ${prose(typeof s.description === 'string' ? s.description : '')}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} API reference</title><style>${STYLE}</style></head>
<body><nav><b>${escapeHtml(doc.info.title)} ${escapeHtml(doc.info.version)}</b><a href="openapi.json">openapi.json</a>${nav}<h2>Schemas</h2>${schemaNav}</nav>
<main><h1>${escapeHtml(doc.info.title)} API reference <span class="h">${escapeHtml(doc.info.version)} · OpenAPI ${escapeHtml(doc.openapi)}</span></h1>
${prose(doc.info.description)}<p>The machine-readable document: <a href="openapi.json">/openapi.json</a>.</p><h2>Authentication</h2><ul>${security}</ul>
${sections.join('\n')}
<section id="components"><h2>Schemas</h2>${schemas.join('\n')}${pathItems.join('')}</section></main></body></html>
`;
}
