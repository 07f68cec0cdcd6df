/**
 * What each route does, as data: one entry per method and path the app
 * serves. Query schemas are the very zod schemas the routes parse
 * `ctx.query` with; bodies and answers name component schemas (schemas.ts).
 * `test/openapi/coverage.test.ts` fails when this list and the routers
 * disagree.
 */
import type { z } from 'zod';
import { taskListQuerySchema } from '../api/routes/task-control.js';
import { deadLettersQuerySchema, deliveriesQuerySchema, listQuerySchema } from '../webhooks/schemas.js';
import type { HttpMethod, JsonSchema } from './types.js';

/** Problem statuses a route can raise itself, with what each means there. */
export type ProblemStatus = 400 | 401 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export interface SuccessSpec {
  description: string;
  /** Component schema of a JSON body. */
  schema?: string;
  /** Any other body: media type → schema. */
  content?: Record<string, JsonSchema>;
  /** Names in `components.headers`. */
  headers?: string[];
}

export interface OperationSpec {
  method: HttpMethod;
  /** OpenAPI form: `{param}`, named as in the router. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Behind the API key (and the rate limit). */
  auth: boolean;
  /** Path parameters: name → description. */
  pathParams?: Record<string, string>;
  /** The zod schema the route parses the query string with. */
  query?: z.ZodObject;
  /** Request header parameters: names in `components.parameters`. */
  headerParams?: string[];
  /** Component schema of the JSON request body. */
  body?: string;
  /** Adds the task's outcome callback (OpenAPI `callbacks`). */
  callback?: boolean;
  /** A keyed route the rate limiter does not count (GET /metrics). */
  unlimited?: boolean;
  responses: Record<number, SuccessSpec>;
  /**
   * Problems the route raises itself. Added for every route: 405 and 500;
   * keyed routes: 401 (and 429 and 503 when rate limiting is on); JSON bodies: 400,
   * 413, 415; `Idempotency-Key`: 400, 409, 422.
   */
  problems?: Partial<Record<ProblemStatus, string>>;
}

/**
 * Served, but deliberately not in the document: the operator dashboard is a
 * browser UI with its own cookie session and CSRF token (src/dashboard); its
 * JSON endpoints belong to its page, not to API clients. The coverage test
 * skips exactly these prefixes.
 */
export const UNDOCUMENTED_PREFIXES: readonly string[] = ['/dashboard'];

const TASK_ID = { task_id: 'The task id returned by the submit.' };
const WEBHOOK_ID = { id: 'The webhook subscription id (`wh_…`).' };
const DELIVERY_ID = { id: 'The delivery id.' };
const NO_WEBHOOK = { 404: 'No such subscription.' } as const;
const SUBMIT_HEADERS = ['Idempotency-Key', 'traceparent'];
const SUBMIT_PROBLEMS = { 503: 'Redis or the queue is unavailable; nothing was queued (`redis_unavailable`, `queue_unavailable`).' };
const BYTES = { 'application/octet-stream': { type: 'string', contentMediaType: 'application/octet-stream' } };

type Details = Omit<OperationSpec, 'method' | 'path' | 'operationId' | 'tag' | 'summary' | 'auth'> & { auth?: boolean };

/** One operation; behind the API key unless `auth: false`. */
function op(method: HttpMethod, path: string, operationId: string, tag: string, summary: string, details: Details): OperationSpec {
  return { method, path, operationId, tag, summary, ...details, auth: details.auth ?? true };
}

function submit(path: string, operationId: string, summary: string): OperationSpec {
  return op('post', path, operationId, 'Tasks', summary, {
    description: 'Validates everything (every problem is listed in one 400) before anything is queued.',
    headerParams: SUBMIT_HEADERS,
    body: 'TaskSubmission',
    callback: true,
    responses: { 202: { description: 'Queued.', schema: 'TaskAccepted', headers: ['Location', 'traceparent', 'Idempotent-Replayed'] } },
    problems: { 400: 'Invalid body, task type (with `known_task_types`), task_data, metadata or callback_url.', ...SUBMIT_PROBLEMS },
  });
}

/** The operations of the HTTP API. `metrics`: whether GET /metrics is served, and whether it needs the key. */
export function operationSpecs(opts: { metrics: 'none' | 'public' | 'keyed' }): OperationSpec[] {
  const ops: OperationSpec[] = [
    op('get', '/healthz', 'getHealth', 'Health', 'Liveness', {
      auth: false,
      responses: { 200: { description: 'The process runs.', schema: 'Health' } },
    }),
    op('get', '/readyz', 'getReady', 'Health', 'Readiness', {
      auth: false,
      description: 'Ready while Redis answers PING and no shutdown is under way. Load balancers should use this.',
      responses: { 200: { description: 'Ready; reports the Redis settings that decide whether queued work can be lost.', schema: 'Ready' } },
      problems: { 503: 'Shutting down (`shutting_down`) or Redis does not answer (`redis_unavailable`).' },
    }),
    op('get', '/openapi.json', 'getOpenApiDocument', 'Reference', 'This OpenAPI 3.1 document', {
      auth: false,
      responses: { 200: { description: 'The document.', content: { 'application/json': { type: 'object' } } } },
    }),
    op('get', '/docs', 'getApiReference', 'Reference', 'API reference (HTML)', {
      auth: false,
      responses: { 200: { description: 'A self-contained HTML page rendered from this document.', content: { 'text/html': { type: 'string' } } } },
    }),
    submit('/api/v1/tasks', 'submitTask', 'Submit a task'),
    submit('/api/v1/tasks/submit', 'submitTaskAlias', 'Submit a task (alias of POST /api/v1/tasks)'),
    op('post', '/api/v1/tasks/batch', 'submitBatch', 'Tasks', 'Submit 1–100 tasks, all or nothing', {
      description: 'The whole batch is validated first: one bad element is a 400 naming `tasks.N.<field>`, and nothing is queued.',
      headerParams: SUBMIT_HEADERS,
      body: 'BatchSubmission',
      callback: true,
      responses: { 202: { description: 'All queued; ids in request order.', schema: 'BatchAccepted', headers: ['traceparent', 'Idempotent-Replayed'] } },
      problems: { 400: 'Invalid envelope or element (`tasks.N.<field>`).', ...SUBMIT_PROBLEMS },
    }),
    op('get', '/api/v1/tasks', 'listTasks', 'Tasks', "List the key's tasks, newest first", {
      query: taskListQuerySchema,
      responses: { 200: { description: 'One page.', schema: 'TaskList' } },
      problems: { 400: 'Invalid query or cursor.' },
    }),
    op('get', '/api/v1/tasks/{task_id}', 'getTask', 'Tasks', 'Task status, result or error, callback deliveries', {
      pathParams: TASK_ID,
      responses: { 200: { description: 'The task.', schema: 'TaskView' } },
      problems: { 404: 'No such task, or a task of another API key (identical answers).' },
    }),
    op('post', '/api/v1/tasks/{task_id}/cancel', 'cancelTask', 'Tasks', 'Cancel a task', {
      pathParams: TASK_ID,
      responses: {
        200: { description: 'The task was queued and is now cancelled.', schema: 'TaskView' },
        202: { description: 'The task is running: its worker was told to stop, and ends it as cancelled.', schema: 'TaskView' },
      },
      problems: { 404: 'No such task.', 409: 'The task has already finished (`task_finished`, with `task_status`).' },
    }),
    op('post', '/api/v1/tasks/{task_id}/retry', 'retryTask', 'Tasks', 'Run a failed or cancelled task again', {
      pathParams: TASK_ID,
      responses: { 202: { description: 'Queued again (a new outcome generation).', schema: 'TaskView', headers: ['Location'] } },
      problems: {
        404: 'No such task.',
        409: 'Only a failed or cancelled task can be retried (`task_not_retryable`, with `task_status`).',
        503: 'The queue is unavailable (`queue_unavailable`).',
      },
    }),
    op('post', '/api/v1/tasks/{task_id}/callback/resend', 'resendTaskCallback', 'Deliveries', "Resend a task's own callback", {
      pathParams: TASK_ID,
      responses: { 202: { description: 'The delivery starts again (same `webhook-id`).', schema: 'Delivery' } },
      problems: {
        404: 'No such task, or it has no callback.',
        409: 'The task has not finished (`task_not_finished`), or an attempt is in flight (`delivery_in_flight`).',
      },
    }),
    op('get', '/api/v1/task-types', 'listTaskTypes', 'Tasks', 'The task types this build can run', {
      responses: { 200: { description: 'Sorted by name.', schema: 'TaskTypes' } },
    }),
    op('get', '/api/v1/files/{taskId}/{name}', 'getTaskFile', 'Files', 'A task output file', {
      description: 'Single byte ranges are supported; HEAD answers the same headers without a body.',
      pathParams: { taskId: 'The task id.', name: 'The file name, as given in the task result.' },
      headerParams: ['Range'],
      responses: {
        200: { description: 'The whole file.', content: BYTES, headers: ['Accept-Ranges'] },
        206: { description: 'The requested range.', content: BYTES, headers: ['Content-Range', 'Accept-Ranges'] },
        416: { description: 'The range lies outside the file (empty body).', headers: ['Content-Range'] },
      },
      problems: { 404: 'No such file (or task of another key).' },
    }),
    op('get', '/api/v1/webhooks/event-types', 'listEventTypes', 'Webhooks', 'Event types a subscription can ask for', {
      responses: { 200: { description: 'Every event type, and webhook.test.', schema: 'EventTypes' } },
    }),
    op('post', '/api/v1/webhooks', 'createWebhook', 'Webhooks', 'Subscribe an endpoint to events', {
      body: 'WebhookCreate',
      responses: { 201: { description: 'Created; the only answer (with rotate-secret) that shows the secret.', schema: 'WebhookCreated', headers: ['Location'] } },
      problems: {
        400: 'Invalid body, URL refused by the egress policy, or unknown task type in the filter (with `known_task_types`).',
        409: 'The API key already has the most subscriptions allowed (`subscription_limit`, with `limit`).',
      },
    }),
    op('get', '/api/v1/webhooks', 'listWebhooks', 'Webhooks', "List the key's subscriptions", {
      query: listQuerySchema,
      responses: { 200: { description: 'One page.', schema: 'WebhookList' } },
      problems: { 400: 'Invalid query or cursor.' },
    }),
    op('get', '/api/v1/webhooks/{id}', 'getWebhook', 'Webhooks', 'One subscription', {
      pathParams: WEBHOOK_ID,
      responses: { 200: { description: 'The subscription (no secret).', schema: 'Webhook' } },
      problems: NO_WEBHOOK,
    }),
    op('patch', '/api/v1/webhooks/{id}', 'updateWebhook', 'Webhooks', 'Change a subscription', {
      description: 'Any subset of the fields; `null` clears description, headers and filter.',
      pathParams: WEBHOOK_ID,
      body: 'WebhookUpdate',
      responses: { 200: { description: 'The updated subscription.', schema: 'Webhook' } },
      problems: { 400: 'Invalid body (as for create).', ...NO_WEBHOOK },
    }),
    op('delete', '/api/v1/webhooks/{id}', 'deleteWebhook', 'Webhooks', 'Delete a subscription', {
      pathParams: WEBHOOK_ID,
      responses: { 204: { description: 'Deleted.' } },
      problems: NO_WEBHOOK,
    }),
    op('post', '/api/v1/webhooks/{id}/rotate-secret', 'rotateWebhookSecret', 'Webhooks', 'Rotate the signing secret', {
      description: 'The previous secret keeps signing (a second `webhook-signature`) for WEBHOOK_SECRET_OVERLAP_H hours.',
      pathParams: WEBHOOK_ID,
      responses: { 200: { description: 'The new secret.', schema: 'RotatedSecret' } },
      problems: NO_WEBHOOK,
    }),
    op('post', '/api/v1/webhooks/{id}/test', 'testWebhook', 'Webhooks', 'Send a webhook.test event now', {
      description: "Sent while the client waits (at most 15 s); the answer reports the receiver's response.",
      pathParams: WEBHOOK_ID,
      responses: { 200: { description: 'What the receiver answered.', schema: 'WebhookTestResult' } },
      problems: { ...NO_WEBHOOK, 503: 'This API process has no egress agent (`egress_unavailable`).' },
    }),
    op('get', '/api/v1/webhooks/{id}/stats', 'getWebhookStats', 'Webhooks', 'Delivery statistics', {
      pathParams: WEBHOOK_ID,
      responses: { 200: { description: 'Counters, success rate, latency.', schema: 'WebhookStats' } },
      problems: NO_WEBHOOK,
    }),
    op('get', '/api/v1/webhooks/{id}/deliveries', 'listWebhookDeliveries', 'Deliveries', "A subscription's deliveries, newest first", {
      pathParams: WEBHOOK_ID,
      query: deliveriesQuerySchema,
      responses: { 200: { description: 'One page.', schema: 'DeliveryList' } },
      problems: { 400: 'Invalid query or cursor.', ...NO_WEBHOOK },
    }),
    op('post', '/api/v1/webhooks/{id}/recover', 'recoverWebhookDeliveries', 'Deliveries', 'Resend every failed delivery since a time', {
      pathParams: WEBHOOK_ID,
      body: 'RecoverRequest',
      responses: { 202: { description: 'How many deliveries were resent.', schema: 'Recovered' } },
      problems: { ...NO_WEBHOOK, 409: 'The subscription is disabled (`webhook_disabled`).' },
    }),
    op('get', '/api/v1/deliveries', 'listDeadLetters', 'Deliveries', 'Dead letters: deliveries whose retries ran out', {
      query: deadLettersQuerySchema,
      responses: { 200: { description: 'One page, most recently failed first.', schema: 'DeliveryList' } },
      problems: { 400: 'Invalid query or cursor (only `status=failed` is allowed).' },
    }),
    op('get', '/api/v1/deliveries/{id}', 'getDelivery', 'Deliveries', 'One delivery with its attempts', {
      pathParams: DELIVERY_ID,
      responses: { 200: { description: 'The delivery.', schema: 'Delivery' } },
      problems: { 404: 'No such delivery.' },
    }),
    op('post', '/api/v1/deliveries/{id}/resend', 'resendDelivery', 'Deliveries', 'Resend one delivery', {
      pathParams: DELIVERY_ID,
      responses: { 202: { description: 'The delivery starts again (same `webhook-id`).', schema: 'Delivery' } },
      problems: {
        404: 'No such delivery.',
        409: 'An attempt is in flight (`delivery_in_flight`), or its webhook was deleted (`webhook_deleted`) or disabled (`webhook_disabled`).',
      },
    }),
  ];
  if (opts.metrics !== 'none') {
    ops.push(
      op('get', '/metrics', 'getMetrics', 'Health', 'Prometheus metrics', {
        auth: opts.metrics === 'keyed',
        unlimited: true,
        responses: { 200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { type: 'string' } } } },
      }),
    );
  }
  return ops;
}
