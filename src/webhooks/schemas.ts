/**
 * Request schemas of the webhook subscription and delivery routes. Objects
 * are strict (an unknown field is a 400 naming it). Checks that need the
 * outside world (the egress policy for `url`, the task registry for
 * `filter.task_types`) run in the route, after these.
 */
import { z } from 'zod';
import { callbackUrlSchema, projectIdSchema, zodIssues } from '../api/schemas.js';
import { ValidationError } from '../errors.js';

/** Events a subscription may ask for. */
import { EVENT_TYPES, type EventType } from '../delivery/events.js';

export { EVENT_TYPES, type EventType } from '../delivery/events.js';
/** Sent only by `POST /webhooks/{id}/test`; never subscribed to. */
export const TEST_EVENT = 'webhook.test';

export const EVENT_DESCRIPTIONS: Readonly<Record<EventType | typeof TEST_EVENT, string>> = {
  'task.started': 'A worker started running a task (sent again when the task is retried through the API).',
  'task.progress': 'A running task reported progress (coalesced: at most one per task per endpoint per interval).',
  'task.completed': 'A task finished successfully; data is the task callback payload.',
  'task.failed': 'A task failed; data is the task callback payload.',
  'task.cancelled': 'A task was cancelled; data is the task callback payload.',
  'webhook.test': 'A test event sent on request (POST /api/v1/webhooks/{id}/test).',
};

export const MAX_DESCRIPTION_LENGTH = 256;
export const MAX_CUSTOM_HEADERS = 20;
export const MAX_HEADER_VALUE_LENGTH = 1024;
export const MAX_FILTER_TASK_TYPES = 50;
/** Pages hold at most this many items, whatever `limit` asks for. */
export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 20;

/** RFC 9110 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
/** Visible ASCII, space, tab and obs-text: no CR, LF or NUL (header injection). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Header names a subscription may not set: the signature headers (receivers
 * must be able to trust them), what the sender owns (`content-*`, `host`,
 * `user-agent`) and hop-by-hop headers undici refuses anyway.
 */
const RESERVED_HEADERS = new Set([
  'x-webhook-signature',
  'content-type',
  'content-length',
  'content-encoding',
  'host',
  'user-agent',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'proxy-authorization',
]);

/** Why a custom header name may not be used, or undefined when it may. */
export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return 'not a valid header name';
  const lower = name.toLowerCase();
  if (lower.startsWith('webhook-') || RESERVED_HEADERS.has(lower)) return 'this header is set by taskhook and may not be overridden';
  return undefined;
}

const eventsSchema = z
  .array(z.string().max(64))
  .min(1, 'must list one or more event types, or "*"')
  .max(EVENT_TYPES.length + 1)
  .superRefine((events, ctx) => {
    if (events.includes('*') && events.length > 1) {
      ctx.addIssue({ code: 'custom', message: '"*" must be the only entry' });
      return;
    }
    events.forEach((e, i) => {
      if (e !== '*' && !(EVENT_TYPES as readonly string[]).includes(e)) {
        ctx.addIssue({ code: 'custom', path: [i], message: `unknown event type; one of ${EVENT_TYPES.join(', ')} or "*"` });
      }
    });
  })
  // Order kept, duplicates dropped.
  .transform((events) => [...new Set(events)]);

const headersSchema = z.record(z.string(), z.string().max(MAX_HEADER_VALUE_LENGTH)).superRefine((headers, ctx) => {
  const names = Object.keys(headers);
  if (names.length > MAX_CUSTOM_HEADERS) {
    ctx.addIssue({ code: 'custom', message: `at most ${MAX_CUSTOM_HEADERS} headers` });
  }
  const seen = new Set<string>();
  for (const name of names) {
    const problem = headerNameProblem(name);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    else if (seen.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'duplicate header name' });
    else if (!HEADER_VALUE.test(headers[name] ?? '')) ctx.addIssue({ code: 'custom', path: [name], message: 'header values may not contain control characters' });
    seen.add(name.toLowerCase());
  }
});

export const filterSchema = z.strictObject({
  /** Only events of these task types (checked against the registry in the route). */
  task_types: z.array(z.string().min(1).max(128)).min(1).max(MAX_FILTER_TASK_TYPES).optional(),
  /** Only events of tasks submitted with this project_id. */
  project_id: projectIdSchema.optional(),
});

export type SubscriptionFilter = z.output<typeof filterSchema>;

export const createSubscriptionSchema = z.strictObject({
  url: callbackUrlSchema,
  events: eventsSchema,
  description: z.string().max(MAX_DESCRIPTION_LENGTH).nullable().optional(),
  headers: headersSchema.nullable().optional(),
  filter: filterSchema.nullable().optional(),
  is_active: z.boolean().optional(),
});

/** PATCH: any subset; `null` clears description, headers and filter. */
export const updateSubscriptionSchema = createSubscriptionSchema.partial();

export type CreateSubscriptionBody = z.output<typeof createSubscriptionSchema>;
export type UpdateSubscriptionBody = z.output<typeof updateSubscriptionSchema>;

export const recoverSchema = z.strictObject({
  since: z.iso.datetime({ offset: true }),
});

/** `dropped`: a coalesced progress event closed by its task's terminal event, never sent. */
export const DELIVERY_STATES = ['pending', 'delivering', 'delivered', 'failed', 'dropped'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** `limit` and `cursor`, shared by every listing. */
const pageQuery = {
  limit: z
    .string()
    .regex(/^\d{1,6}$/, 'must be a positive integer')
    .transform(Number)
    .refine((n) => n >= 1, 'must be at least 1')
    // Clamped, not refused: asking for more than a page holds is not an error.
    .transform((n) => Math.min(n, MAX_PAGE_LIMIT))
    .optional(),
  cursor: z.string().min(1).max(512).optional(),
};

export const listQuerySchema = z.strictObject(pageQuery);

export const deliveriesQuerySchema = z.strictObject({
  ...pageQuery,
  status: z.enum(DELIVERY_STATES).optional(),
  event: z.enum([...EVENT_TYPES, TEST_EVENT]).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});

/** `GET /deliveries` lists dead letters only: `status` may be omitted or `failed`. */
export const deadLettersQuerySchema = deliveriesQuerySchema.extend({
  status: z.literal('failed', 'only status=failed (the dead letters) can be listed here').optional(),
});

/** Parses `value` with `schema`, or a 400 naming every failing field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`The ${what} is invalid; see errors.`, zodIssues(parsed.error));
  return parsed.data;
}
