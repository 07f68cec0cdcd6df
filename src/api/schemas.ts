/**
 * Request body schemas. Objects are strict: an unknown field is a client bug
 * we report, not something we silently drop. `task_data` is checked later
 * against the task definition's own schema (see routes/tasks.ts).
 */
import { z } from 'zod';
import type { FieldIssue } from '../errors.js';

export interface BodyLimits {
  /** Largest `metadata`, as serialised JSON bytes. */
  metadataMaxBytes: number;
  /** Deepest nesting of `metadata` (a flat object is 1). */
  metadataMaxDepth: number;
}

export const MAX_CALLBACK_URL_LENGTH = 2048;
export const MAX_BATCH_TASKS = 100;
/**
 * Deepest nesting of `task_data` (the object itself is 1). Not a config
 * setting: it exists only so that hostile depth (thousands of `[`, which
 * JSON.parse accepts) is refused here instead of overflowing the stack of a
 * recursive walk later (JSON.stringify in the producer, a task's own zod
 * schema, the worker). 64 is far past any real task input.
 */
export const TASK_DATA_MAX_DEPTH = 64;

/** Nesting depth of a JSON value: scalars 0, `{}` / `[]` 1. Iterative, so hostile depth cannot overflow the stack. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop() as { v: unknown; d: number };
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(v)) stack.push({ v: child, d: d + 1 });
  }
  return max;
}

function isHttpUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}

const jsonObject = z.record(z.string(), z.unknown());

export const callbackUrlSchema = z
  .string()
  .max(MAX_CALLBACK_URL_LENGTH)
  .refine(isHttpUrl, 'must be an absolute http:// or https:// URL');

export const projectIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may contain only letters, digits and _ . : -');

/** The issue message for `value` nested deeper than `max`, or null. */
function depthProblem(value: unknown, max: number): string | null {
  const depth = jsonDepth(value);
  return depth > max ? `nested ${depth} deep; at most ${max} allowed` : null;
}

/** `task_data`: any JSON object within TASK_DATA_MAX_DEPTH; its fields are the task definition's business. */
export const taskDataSchema = jsonObject.superRefine((value, ctx) => {
  const problem = depthProblem(value, TASK_DATA_MAX_DEPTH);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

export function metadataSchema(limits: BodyLimits) {
  return jsonObject.superRefine((value, ctx) => {
    // Depth first: a deep value is refused before it is serialised.
    const problem = depthProblem(value, limits.metadataMaxDepth);
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: problem });
      return;
    }
    const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
    if (bytes > limits.metadataMaxBytes) {
      ctx.addIssue({ code: 'custom', message: `${bytes} bytes serialised; at most ${limits.metadataMaxBytes} allowed` });
    }
  });
}

export const optionsSchema = z.strictObject({
  /** Overrides the task definition's deadline. */
  timeout_s: z.number().int().min(1).max(86_400).optional(),
  /** Task-level retries after a handler error (exponential backoff from 1 s). */
  retries: z.number().int().min(0).max(10).optional(),
  /** Start no earlier than this many seconds from now. */
  delay_s: z.number().int().min(0).max(604_800).optional(),
});

export function taskBodySchema(limits: BodyLimits) {
  return z.strictObject({
    task_type: z.string().min(1).max(128),
    task_data: taskDataSchema.optional(),
    callback_url: callbackUrlSchema.nullable().optional(),
    metadata: metadataSchema(limits).nullable().optional(),
    project_id: projectIdSchema.nullable().optional(),
    options: optionsSchema.optional(),
  });
}

/** The batch envelope; each element of `tasks` is then checked with `taskBodySchema`, so errors name `tasks.N.<field>`. */
export function batchEnvelopeSchema(limits: BodyLimits) {
  return z.strictObject({
    tasks: z.array(z.unknown()).min(1).max(MAX_BATCH_TASKS),
    callback_url: callbackUrlSchema.nullable().optional(),
    metadata: metadataSchema(limits).nullable().optional(),
  });
}

export type TaskBody = z.output<ReturnType<typeof taskBodySchema>>;
export type BatchEnvelope = z.output<ReturnType<typeof batchEnvelopeSchema>>;
export type TaskOptions = z.output<typeof optionsSchema>;

/** Dotted field path; `prefix` is prepended (e.g. `task_data`), `body` names the whole document. */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  const parts = [prefix, ...path.map((p) => String(p))].filter((p) => p.length > 0);
  return parts.length > 0 ? parts.join('.') : 'body';
}

/** zod issues as field issues; each unknown key becomes its own issue naming the key. */
export function zodIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: fieldPath(prefix, [...issue.path, key]), message: 'unknown field' });
    } else {
      out.push({ field: fieldPath(prefix, issue.path), message: issue.message });
    }
  }
  return out;
}
