/**
 * `buildOpenApiDocument(opts)`: the OpenAPI 3.1 document of the API, built
 * from the route descriptions (operations.ts), the zod schemas the routes
 * validate with (schemas.ts) and the task registry. Pure: call it at start-up
 * and serve the result; nothing here runs at import time.
 */
import type { Config } from '../config.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { VERSION } from '../version.js';
import { operationSpecs, type OperationSpec, type ProblemStatus } from './operations.js';
import { componentSchemas, schemaRef, toJsonSchema } from './schemas.js';
import type { HeaderObject, OpenApiDocument, OperationObject, ParameterObject, Reference, ResponseObject } from './types.js';
import { SIGNATURE_PARAMETERS, taskCallbackPathItem, webhookEntries } from './webhooks.js';

export interface OpenApiOptions {
  /** The task types: `task_data` is described per type from each definition's `input`. */
  registry: TaskRegistry;
  config: Pick<
    Config,
    'MAX_BODY_BYTES' | 'METADATA_MAX_BYTES' | 'METADATA_MAX_DEPTH' | 'RATE_LIMIT_PER_MIN' | 'METRICS_PUBLIC' | 'PUBLIC_BASE_URL'
  >;
  /** Whether the app serves GET /metrics (AppDeps.metrics is set). @default false */
  metrics?: boolean;
}

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
const KEYED: Record<string, string[]>[] = [{ ApiKey: [] }, { Bearer: [] }];
const RATE_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

const int = { type: 'integer', minimum: 0 };
const HEADERS: Record<string, HeaderObject> = {
  Location: { description: 'Where the created or queued resource can be read.', schema: { type: 'string' } },
  'Idempotent-Replayed': {
    description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', const: 'true' },
  },
  'RateLimit-Limit': { description: 'Requests allowed per minute for this API key.', schema: int },
  'RateLimit-Remaining': { description: 'Requests left in the current window.', schema: int },
  'RateLimit-Reset': { description: 'Seconds until the window ends.', schema: int },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: int },
  traceparent: { description: 'W3C trace context of the task: the request\'s own, or a new one.', schema: { type: 'string' } },
  'WWW-Authenticate': { description: '`Bearer realm="taskhook"`.', schema: { type: 'string' } },
  Allow: { description: 'The methods this path supports.', schema: { type: 'string' } },
  'Content-Range': { description: '`bytes start-end/size`, or `bytes */size` on 416.', schema: { type: 'string' } },
  'Accept-Ranges': { description: '`bytes`.', schema: { type: 'string' } },
};

const PARAMETERS: Record<string, ParameterObject> = {
  'Idempotency-Key': {
    name: 'Idempotency-Key', in: 'header',
    description: 'Makes a retried submit safe: same key and body → the first answer again (24 h). 1–255 printable ASCII characters.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
  },
  traceparent: { name: 'traceparent', in: 'header', description: 'W3C trace context, stored with the task.', schema: { type: 'string' } },
  Range: { name: 'Range', in: 'header', description: 'One byte range, e.g. `bytes=0-1023` or `bytes=-500`.', schema: { type: 'string' } },
};

function problemResponses(config: OpenApiOptions['config']): Record<ProblemStatus, { name: string } & ResponseObject> {
  const p = (name: string, description: string, headers: string[] = []) => ({
    name,
    description,
    ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
    content: { [PROBLEM_MEDIA_TYPE]: { schema: schemaRef('Problem') } },
  });
  return {
    400: p('BadRequest', 'Invalid request (`validation_failed`, `body_unreadable`): `errors` names every failing field.'),
    401: p('Unauthorized', 'Missing, unknown or malformed API key (`unauthorized`).', ['WWW-Authenticate']),
    404: p('NotFound', 'Not found (`not_found`). Another API key\'s resource is indistinguishable from a missing one.'),
    405: p('MethodNotAllowed', 'The path exists, but not with this method (`method_not_allowed`).', ['Allow']),
    409: p('Conflict', 'Conflict with the current state; `idempotency_in_flight` carries `Retry-After: 1`.', ['Retry-After']),
    413: p('PayloadTooLarge', `Body over ${config.MAX_BODY_BYTES} bytes (\`payload_too_large\`, with \`limit_bytes\`).`),
    415: p('UnsupportedMediaType', 'The body must be `application/json` in UTF-8: no `charset`, or `charset=utf-8` (`unsupported_media_type`).'),
    422: p('UnprocessableContent', 'The Idempotency-Key was used before with a different body (`idempotency_key_reused`).'),
    429: p('TooManyRequests', `Over ${config.RATE_LIMIT_PER_MIN} requests per minute for this API key (\`rate_limited\`).`, ['Retry-After', ...RATE_HEADERS]),
    500: p('InternalError', 'Unexpected failure (`internal_error`); nothing about it is revealed.'),
    503: p('ServiceUnavailable', 'A dependency is unavailable; try again or elsewhere.'),
  };
}

/** Every problem status of an operation: its own, plus those every route of its kind can answer. */
function problemsOf(spec: OperationSpec, rateLimited: boolean): Map<ProblemStatus, string | undefined> {
  const out = new Map<ProblemStatus, string | undefined>();
  const add = (status: ProblemStatus, description?: string) => out.set(status, description ?? out.get(status));
  if (spec.auth) add(401);
  if (spec.auth && rateLimited) {
    add(429);
    add(503, 'Redis, where the rate limit is counted, cannot be reached (`redis_unavailable`, `Retry-After: 5`).');
  }
  if (spec.body !== undefined) [400, 413, 415].forEach((s) => add(s as ProblemStatus));
  if (spec.headerParams?.includes('Idempotency-Key')) {
    add(400);
    add(409, "A request with the same Idempotency-Key is still running, or took the key over after this request's 15 s lock ran out (then this one queued nothing): `idempotency_in_flight`, `Retry-After: 1`.");
    add(422);
  }
  for (const [status, description] of Object.entries(spec.problems ?? {})) add(Number(status) as ProblemStatus, description);
  add(405);
  add(500);
  return new Map([...out.entries()].sort(([a], [b]) => a - b));
}

function parameters(spec: OperationSpec): (ParameterObject | Reference)[] {
  const out: (ParameterObject | Reference)[] = Object.entries(spec.pathParams ?? {}).map(([name, description]) => ({
    name, in: 'path', required: true, description, schema: { type: 'string' },
  }));
  if (spec.query) {
    const q = toJsonSchema(spec.query);
    const required = new Set(Array.isArray(q.required) ? (q.required as string[]) : []);
    for (const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, { description?: string }>)) {
      out.push({ name, in: 'query', required: required.has(name), ...(schema.description ? { description: schema.description } : {}), schema });
    }
  }
  for (const name of spec.headerParams ?? []) out.push({ $ref: `#/components/parameters/${name}` });
  return out;
}

function operation(spec: OperationSpec, problems: ReturnType<typeof problemResponses>, rateLimited: boolean): OperationObject {
  const responses: OperationObject['responses'] = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const headers = [...(r.headers ?? []), ...(spec.auth && rateLimited ? RATE_HEADERS : [])];
    const content = r.schema !== undefined ? { 'application/json': schemaRef(r.schema) } : r.content;
    responses[status] = {
      description: r.description,
      ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
      ...(content ? { content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])) } : {}),
    };
  }
  for (const [status, description] of problemsOf(spec, rateLimited)) {
    responses[String(status)] = { $ref: `#/components/responses/${problems[status].name}`, ...(description ? { description } : {}) };
  }
  const params = parameters(spec);
  return {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: spec.auth ? KEYED : [],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(spec.body) } } } } : {}),
    responses,
    ...(spec.callback ? { callbacks: { taskOutcome: { '{$request.body#/callback_url}': { $ref: '#/components/pathItems/TaskCallback' } } } } : {}),
  };
}

const TAGS = [
  { name: 'Tasks', description: 'Submit tasks, read their status and results, cancel and retry them.' },
  { name: 'Files', description: 'Output files of media tasks.' },
  { name: 'Webhooks', description: 'Subscriptions: endpoints told about task events.' },
  { name: 'Deliveries', description: 'The delivery log of callbacks and subscriptions, dead letters and replay.' },
  { name: 'Health', description: 'Liveness, readiness and metrics.' },
  { name: 'Reference', description: 'This document and its HTML rendering.' },
  { name: 'Callbacks and events', description: 'Requests taskhook sends: task callbacks and subscription events.' },
];

const OVERVIEW = [
  'Submit tasks over HTTP; on completion a signed callback is POSTed to the task\'s `callback_url`.',
  'Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`; each key is its own tenant.',
  'Every error is `application/problem+json` (RFC 9457) with a stable `code` and, for validation, `errors[]` naming each field.',
  'Request bodies are strict JSON objects: an unknown field is a 400 naming it.',
].join('\n\n');

export function buildOpenApiDocument(opts: OpenApiOptions): OpenApiDocument {
  const { config } = opts;
  const rateLimited = config.RATE_LIMIT_PER_MIN > 0;
  const problems = problemResponses(config);
  const metrics = !opts.metrics ? 'none' : config.METRICS_PUBLIC ? 'public' : 'keyed';
  const paths: OpenApiDocument['paths'] = {};
  for (const spec of operationSpecs({ metrics })) {
    (paths[spec.path] ??= {})[spec.method] = operation(spec, problems, rateLimited && spec.unlimited !== true);
  }
  const limits = { metadataMaxBytes: config.METADATA_MAX_BYTES, metadataMaxDepth: config.METADATA_MAX_DEPTH };
  return {
    openapi: '3.1.1',
    info: { title: 'taskhook', version: VERSION, description: OVERVIEW, license: { name: 'MIT', identifier: 'MIT' } },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    ...(config.PUBLIC_BASE_URL ? { servers: [{ url: config.PUBLIC_BASE_URL }] } : {}),
    tags: TAGS,
    paths,
    webhooks: webhookEntries(),
    components: {
      schemas: componentSchemas(opts.registry, limits),
      responses: Object.fromEntries(Object.values(problems).map(({ name, ...response }) => [name, response])),
      parameters: { ...PARAMETERS, ...Object.fromEntries(SIGNATURE_PARAMETERS.map((p) => [p.name, p])) },
      headers: HEADERS,
      securitySchemes: {
        ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from API_KEYS.' },
        Bearer: { type: 'http', scheme: 'bearer', description: 'The same API key, as `Authorization: Bearer <key>`.' },
      },
      pathItems: { TaskCallback: taskCallbackPathItem() },
    },
  };
}
