/**
 * `components.schemas` of the OpenAPI document, converted from the zod
 * schemas the routes validate with (zod's own JSON Schema output, draft
 * 2020-12, which is the OpenAPI 3.1 dialect). Request schemas are converted
 * as their *input* side (what a client sends, before transforms and
 * defaults); a schema that appears under a name is referenced, not copied.
 */
import { z } from 'zod';
import { MAX_BATCH_TASKS, TASK_DATA_MAX_DEPTH, batchEnvelopeSchema, optionsSchema, taskBodySchema, type BodyLimits } from '../api/schemas.js';
import { taskStatusDataSchema, taskStatusEventSchema, subscriptionEventSchema } from '../delivery/events.js';
import {
  callbackPayloadSchema,
  taskCancelledPayloadSchema,
  taskCompletedPayloadSchema,
  taskFailedPayloadSchema,
} from '../delivery/payload.js';
import type { TaskRegistry } from '../tasks/registry.js';
import { EVENT_TYPES, createSubscriptionSchema, filterSchema, recoverSchema, updateSubscriptionSchema } from '../webhooks/schemas.js';
import * as r from './responses.js';
import type { JsonSchema } from './types.js';

export const SCHEMA_REF_PREFIX = '#/components/schemas/';

/** `{ $ref }` to a named component schema. */
export function schemaRef(name: string): JsonSchema {
  return { $ref: SCHEMA_REF_PREFIX + name };
}

/** Formats say it better than zod's long validation patterns (and the pattern can be stricter than the format). */
function tidy(ctx: { jsonSchema: JsonSchema }): void {
  const s = ctx.jsonSchema;
  if (typeof s.format === 'string' && typeof s.pattern === 'string') delete s.pattern;
}

const CONVERT = { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', override: tidy } as const;

/** One zod schema as a stand-alone JSON Schema (no `$schema`). */
export function toJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, CONVERT) as JsonSchema;
  return rest;
}

/** The callback and event bodies (also used by the `webhooks` section). */
function eventSchemas(): Record<string, z.ZodType> {
  const statusEvent = (type: 'task.started' | 'task.progress') => taskStatusEventSchema.extend({ type: z.literal(type) });
  const outcomeEvent = <S extends z.ZodType>(type: string, data: S) => z.object({ ...taskStatusEventSchema.shape, type: z.literal(type), data });
  return {
    CallbackPayload: callbackPayloadSchema,
    TaskCompletedPayload: taskCompletedPayloadSchema,
    TaskFailedPayload: taskFailedPayloadSchema,
    TaskCancelledPayload: taskCancelledPayloadSchema,
    TaskStatusData: taskStatusDataSchema,
    TaskStartedEvent: statusEvent('task.started'),
    TaskProgressEvent: statusEvent('task.progress'),
    TaskCompletedEvent: outcomeEvent('task.completed', taskCompletedPayloadSchema),
    TaskFailedEvent: outcomeEvent('task.failed', taskFailedPayloadSchema),
    TaskCancelledEvent: outcomeEvent('task.cancelled', taskCancelledPayloadSchema),
    WebhookTestEvent: r.testEventSchema,
    SubscriptionEvent: subscriptionEventSchema,
  };
}

function responseSchemas(): Record<string, z.ZodType> {
  return {
    Problem: r.problemSchema,
    Health: r.healthSchema,
    Ready: r.readySchema,
    TaskAccepted: r.taskAcceptedSchema,
    BatchAccepted: r.batchAcceptedSchema,
    TaskView: r.taskViewSchema,
    TaskListItem: r.taskListItemSchema,
    TaskList: r.taskListSchema,
    TaskTypes: r.taskTypesSchema,
    Webhook: r.subscriptionSchema,
    WebhookCreated: r.subscriptionCreatedSchema,
    WebhookList: r.subscriptionListSchema,
    EventTypes: r.eventTypesSchema,
    RotatedSecret: r.rotatedSecretSchema,
    WebhookTestResult: r.testEventResultSchema,
    WebhookStats: r.webhookStatsSchema,
    Delivery: r.deliverySchema,
    DeliveryList: r.deliveryListSchema,
    Recovered: r.recoveredSchema,
  };
}

/** Extra OpenAPI keywords zod has no notion of, merged into named schemas. */
type Extras = Record<string, JsonSchema>;

/**
 * The task submission: one variant per task type, each the route's own body
 * schema with `task_type` fixed and `task_data` the definition's `input`.
 */
function requestSchemas(tasks: TaskRegistry, limits: BodyLimits): { schemas: Record<string, z.ZodType>; extras: Extras } {
  const base = taskBodySchema(limits);
  const schemas: Record<string, z.ZodType> = { TaskOptions: optionsSchema };
  const mapping: Record<string, string> = {};
  const variants = tasks.all().map((def) => {
    const variant = base.extend({ task_type: z.literal(def.name), task_data: def.input.optional() });
    schemas[`TaskData.${def.name}`] = def.input;
    schemas[`TaskSubmission.${def.name}`] = variant;
    mapping[def.name] = SCHEMA_REF_PREFIX + `TaskSubmission.${def.name}`;
    return variant;
  });
  const [first, ...rest] = variants;
  const submission = first === undefined ? base : z.discriminatedUnion('task_type', [first, ...rest]);
  const batch = batchEnvelopeSchema(limits).extend({ tasks: z.array(submission).min(1).max(MAX_BATCH_TASKS) });
  Object.assign(schemas, {
    TaskSubmission: submission,
    BatchSubmission: batch,
    WebhookFilter: filterSchema,
    WebhookCreate: createSubscriptionSchema,
    WebhookUpdate: updateSubscriptionSchema,
    RecoverRequest: recoverSchema,
  });
  const extras: Extras = {
    TaskSubmission: {
      description: `One task. \`task_type\` selects the variant, and \`task_data\` is checked against that task type's own schema; it may nest at most ${TASK_DATA_MAX_DEPTH} deep.`,
      ...(variants.length > 0 ? { discriminator: { propertyName: 'task_type', mapping } } : {}),
    },
    BatchSubmission: {
      description: `1–${MAX_BATCH_TASKS} tasks, all or nothing. The top-level callback_url and metadata apply to every task that gives none.`,
    },
    CallbackPayload: {
      discriminator: {
        propertyName: 'event',
        mapping: {
          'task.completed': SCHEMA_REF_PREFIX + 'TaskCompletedPayload',
          'task.failed': SCHEMA_REF_PREFIX + 'TaskFailedPayload',
          'task.cancelled': SCHEMA_REF_PREFIX + 'TaskCancelledPayload',
        },
      },
    },
    WebhookCreate: { description: `\`events\`: one or more of ${EVENT_TYPES.join(', ')}, or \`["*"]\` for all.` },
  };
  for (const def of tasks.all()) {
    if (def.description !== undefined) extras[`TaskData.${def.name}`] = { description: `task_data of ${def.name}: ${def.description}` };
  }
  return { schemas, extras };
}

/**
 * Every named schema of the document. zod emits a `$ref` wherever a named
 * schema (the same instance) appears inside another.
 */
export function componentSchemas(tasks: TaskRegistry, limits: BodyLimits): Record<string, JsonSchema> {
  const requests = requestSchemas(tasks, limits);
  const named: Record<string, z.ZodType> = { ...requests.schemas, ...responseSchemas(), ...eventSchemas() };
  // A private registry: names are looked up here, descriptions still come from the global one.
  const ids = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) {
    // The same instance under two names (two task types sharing an input schema): the first name wins.
    if (!ids.has(schema)) ids.add(schema, { id });
  }
  const out = z.toJSONSchema(ids, { ...CONVERT, uri: (id) => SCHEMA_REF_PREFIX + id }).schemas as Record<string, JsonSchema>;
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema;
    schemas[id] = { ...requests.extras[id], ...rest };
  }
  return schemas;
}
