/**
 * The requests taskhook sends (OpenAPI 3.1 `webhooks`): the per-task
 * callback to `callback_url`, and one entry per subscription event type.
 * Bodies are the zod schemas of src/delivery/payload.ts and events.ts.
 */
import { EVENT_DESCRIPTIONS, TEST_EVENT, type EventType } from '../webhooks/schemas.js';
import { schemaRef } from './schemas.js';
import type { OperationObject, ParameterObject, PathItemObject, ResponseObject } from './types.js';

function header(name: string, required: boolean, description: string, pattern?: string): ParameterObject {
  return { name, in: 'header', required, description, schema: pattern === undefined ? { type: 'string' } : { type: 'string', pattern } };
}

/** The headers of every callback and event request (in `components.parameters`). */
export const SIGNATURE_PARAMETERS: ParameterObject[] = [
  header('webhook-id', true, 'The message id: the same on every retry and resend of one event; deduplicate on it.'),
  header('webhook-timestamp', true, 'Seconds since the epoch when this attempt was signed; reject it when more than 300 s away.', '^\\d+$'),
  header(
    'webhook-signature',
    true,
    'Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`; several space-separated while a secret rotates.',
  ),
  header('x-webhook-signature', false, '`sha256=` + hex HMAC-SHA256 of the raw body (legacy; covers no timestamp).', '^sha256=[0-9a-f]{64}$'),
  header('user-agent', false, '`taskhook/<version>`.'),
];

const RECEIVER_RESPONSES: Record<string, ResponseObject> = {
  '2XX': { description: 'Delivered: no more attempts. The response body is not read beyond CALLBACK_MAX_RESPONSE_BYTES.' },
  default: {
    description:
      '408, 429, 5xx, a timeout or a connection error are retried (honouring `Retry-After`); 3xx and other 4xx fail the delivery without retry.',
  },
};

function post(operationId: string, summary: string, description: string, schema: string): PathItemObject {
  const op: OperationObject = {
    operationId,
    tags: ['Callbacks and events'],
    summary,
    description,
    // The receiver authenticates taskhook by the signature headers, not by an API key.
    security: [],
    parameters: SIGNATURE_PARAMETERS.map((p) => ({ $ref: `#/components/parameters/${p.name}` })),
    requestBody: { required: true, content: { 'application/json': { schema: schemaRef(schema) } } },
    responses: RECEIVER_RESPONSES,
  };
  return { post: op };
}

/** The task callback, POSTed to the task's `callback_url` (also referenced from the submit operations' `callbacks`). */
export function taskCallbackPathItem(): PathItemObject {
  return post(
    'taskCallback',
    "A task's outcome, POSTed to its callback_url",
    'Sent once per final outcome (at least once: deduplicate on `webhook-id`), signed with WEBHOOK_SECRET. Switch on `event`.',
    'CallbackPayload',
  );
}

const EVENT_BODIES: Record<EventType | typeof TEST_EVENT, string> = {
  'task.started': 'TaskStartedEvent',
  'task.progress': 'TaskProgressEvent',
  'task.completed': 'TaskCompletedEvent',
  'task.failed': 'TaskFailedEvent',
  'task.cancelled': 'TaskCancelledEvent',
  'webhook.test': 'WebhookTestEvent',
};

/** `webhooks`: the task callback (a reference) and one entry per event type. */
export function webhookEntries(): Record<string, PathItemObject> {
  const out: Record<string, PathItemObject> = { 'task-callback': { $ref: '#/components/pathItems/TaskCallback' } };
  for (const [type, schema] of Object.entries(EVENT_BODIES)) {
    const description = EVENT_DESCRIPTIONS[type as keyof typeof EVENT_BODIES];
    const opId = 'event' + type.split('.').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
    out[type] = post(
      opId,
      `${type} (webhook subscriptions)`,
      `${description} Sent to subscribed endpoints as \`{ type, timestamp, data }\`, signed with the subscription's secret.`,
      schema,
    );
  }
  return out;
}
