/**
 * zod schemas of what the routes answer, for the OpenAPI document only (the
 * routes build their bodies from plain TypeScript types). Each schema is
 * tied to the type the route really returns by a compile-time check at the
 * bottom of this file, so the document cannot drift from the code silently.
 *
 * Objects are not strict: clients must ignore members they do not know,
 * and new members may be added.
 */
import { z } from 'zod';
import type { RedisSafetyView } from '../api/routes/health.js';
import type { TaskListItem } from '../store/task-list.js';
import type { TaskView } from '../store/task-view.js';
import type { DeliveryView } from '../webhooks/deliveries.js';
import { DELIVERY_STATES, EVENT_TYPES, TEST_EVENT, filterSchema } from '../webhooks/schemas.js';
import type { WebhookStats } from '../webhooks/stats.js';
import type { SubscriptionView } from '../webhooks/store.js';
import type { TestEventResult } from '../webhooks/test-event.js';

const isoDate = z.iso.datetime({ offset: true });
const nullableIso = isoDate.nullable();
const taskId = z.uuid().describe('The task id (a UUID).');
const nextCursor = z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.');
const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
const CALLBACK_STATES = ['none', 'pending', 'delivering', 'delivered', 'failed'] as const;

/** RFC 9457 problem details, as rendered by `toProblem` (src/api/problem.ts). */
export const problemSchema = z
  .object({
    type: z.string().describe('`urn:taskhook:problem:<code>`.'),
    title: z.string().describe('The HTTP reason phrase.'),
    status: z.number().int().min(400).max(599),
    detail: z.string().describe('For people; generic for 5xx.'),
    code: z.string().describe('Stable machine-readable code: program against this, not `detail`.'),
    errors: z
      .array(z.object({ field: z.string().describe('Dotted path; `body` is the whole document.'), message: z.string() }))
      .optional()
      .describe('Every failing field (validation problems).'),
  })
  .describe('An RFC 9457 problem. Some problems carry extra members (e.g. `known_task_types`, `limit_bytes`, `retry_after_s`).');

export const healthSchema = z.object({ status: z.literal('ok') });

export const readySchema = z.object({
  status: z.literal('ready'),
  redis: z.object({
    maxmemory_policy: z.string().nullable(),
    appendonly: z.string().nullable(),
  }).describe('Redis settings that decide whether queued work can be lost; null when CONFIG is not allowed.'),
});

export const taskAcceptedSchema = z.object({
  task_id: taskId,
  status: z.literal('queued'),
  task_type: z.string(),
  created_at: isoDate,
});

export const batchAcceptedSchema = z.object({
  tasks: z.array(z.object({ task_id: taskId, status: z.literal('queued') })).describe('In request order.'),
});

const callbackAttemptSchema = z.object({
  n: z.number().int(),
  at: nullableIso,
  status_code: z.number().int().nullable(),
  duration_ms: z.number().nullable(),
  error: z.string().nullable(),
  outcome: z.string().nullable().describe('delivered | retry | failed | blocked'),
});

export const taskViewSchema = z.object({
  task_id: taskId,
  task_type: z.string(),
  project_id: z.string().nullable(),
  status: z.enum(TASK_STATUSES),
  progress: z.number().min(0).max(100),
  result: z.unknown().optional().describe('Present only when `status` is `completed`.'),
  error: z
    .object({ message: z.string(), error_type: z.string(), traceback: z.string().optional() })
    .optional()
    .describe('Present only when `status` is `failed`.'),
  created_at: nullableIso,
  started_at: nullableIso,
  completed_at: nullableIso,
  processing_time: z.number().nullable().describe('Seconds from start to finish.'),
  metadata: z.record(z.string(), z.unknown()),
  callback: z.object({
    url: z.string().nullable().describe('Without credentials, query string or fragment.'),
    state: z.enum(CALLBACK_STATES),
    attempts: z.array(callbackAttemptSchema).describe('Attempts of the current delivery, oldest first.'),
  }),
});

export const taskListItemSchema = z.object({
  task_id: taskId,
  task_type: z.string(),
  project_id: z.string().nullable(),
  status: z.enum(TASK_STATUSES),
  progress: z.number().min(0).max(100),
  created_at: nullableIso,
  completed_at: nullableIso,
  callback_state: z.enum(CALLBACK_STATES),
});

export const taskListSchema = z.object({ tasks: z.array(taskListItemSchema).describe('Newest first.'), next_cursor: nextCursor });

export const taskTypesSchema = z.object({
  task_types: z.array(
    z.object({ name: z.string(), queue: z.string(), description: z.string().nullable(), timeout_s: z.number().int() }),
  ),
});

export const subscriptionSchema = z.object({
  id: z.string().describe('`wh_` + 24 hex.'),
  url: z.string(),
  events: z.array(z.string()).describe('Event types, or `["*"]`.'),
  description: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  filter: filterSchema,
  is_active: z.boolean(),
  created_at: isoDate,
  updated_at: isoDate,
  disabled_reason: z.string().nullable(),
  disabled_at: nullableIso,
});

export const subscriptionCreatedSchema = subscriptionSchema.extend({
  secret: z.string().describe('`whsec_…`: shown only here and by rotate-secret.'),
});

export const subscriptionListSchema = z.object({ webhooks: z.array(subscriptionSchema), next_cursor: nextCursor });

export const eventTypesSchema = z.object({
  event_types: z.array(z.object({ type: z.enum([...EVENT_TYPES, TEST_EVENT]), description: z.string() })),
});

export const rotatedSecretSchema = z.object({ secret: z.string().describe('The new `whsec_…` secret; the previous one signs too for WEBHOOK_SECRET_OVERLAP_H.') });

export const testEventResultSchema = z.object({
  delivery_id: z.string(),
  status_code: z.number().int().nullable(),
  duration_ms: z.number(),
  response_excerpt: z.string(),
  error: z.string().nullable(),
  outcome: z.enum(['delivered', 'failed', 'blocked']),
});

export const webhookStatsSchema = z.object({
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  pending: z.number().int(),
  success_rate: z.number().min(0).max(1).nullable(),
  last_success_at: nullableIso,
  last_failure_at: nullableIso,
  latency_ms: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
});

export const deliverySchema = z.object({
  id: z.string(),
  webhook_id: z.string().nullable().describe('The subscription, or null for a task callback.'),
  task_id: z.string().nullable(),
  event: z.string().nullable(),
  state: z.enum(DELIVERY_STATES),
  webhook_message_id: z.string().nullable().describe('The `webhook-id` header: the same on every attempt and resend.'),
  url: z.string(),
  created_at: nullableIso,
  next_attempt_at: nullableIso,
  completed_at: nullableIso,
  attempts: z.array(
    callbackAttemptSchema.extend({
      response_headers: z.record(z.string(), z.string()).optional(),
      response_excerpt: z.string().optional(),
    }),
  ),
});

export const deliveryListSchema = z.object({ deliveries: z.array(deliverySchema), next_cursor: nextCursor });

export const recoveredSchema = z.object({ resent: z.number().int().min(0).describe('How many failed deliveries were resent.') });

/** The body of a `webhook.test` event (see `testEventBody`). */
export const testEventSchema = z.object({
  type: z.literal(TEST_EVENT),
  timestamp: isoDate,
  data: z.object({ webhook_id: z.string(), message: z.string() }),
});

// Compile-time checks: each schema describes the type its route returns, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ResponseSchemaChecks = [
  Assert<Same<z.output<typeof taskViewSchema>, TaskView>>,
  Assert<Same<z.output<typeof taskListItemSchema>, TaskListItem>>,
  Assert<Same<z.output<typeof readySchema>['redis'], RedisSafetyView>>,
  Assert<Same<z.output<typeof subscriptionSchema>, SubscriptionView>>,
  Assert<Same<z.output<typeof testEventResultSchema>, TestEventResult>>,
  Assert<Same<z.output<typeof webhookStatsSchema>, WebhookStats>>,
  Assert<Same<z.output<typeof deliverySchema>, DeliveryView>>,
];
