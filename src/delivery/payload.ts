/**
 * The callback payloads: zod schemas (receivers and tests validate real
 * callbacks against them) and pure builders.
 *
 * Key order matters: the bytes are signed and stored once in the outbox, and
 * a stable order is friendlier to receivers that log or diff bodies. The
 * builders therefore write every key in the order the schemas list them.
 */
import { z } from 'zod';
import { errorCode } from '../errors.js';

const isoDate = z.string().datetime({ offset: true });
const jsonObject = z.record(z.string(), z.unknown());

export const taskCompletedPayloadSchema = z.object({
  event: z.literal('task.completed'),
  task_id: z.string().min(1),
  project_id: z.string().nullable(),
  task_type: z.string().min(1),
  status: z.literal('completed'),
  result: jsonObject,
  /** Seconds from the start of the successful run to its end. */
  processing_time: z.number().nonnegative(),
  completed_at: isoDate,
  metadata: jsonObject,
});

export const taskFailedPayloadSchema = z.object({
  event: z.literal('task.failed'),
  task_id: z.string().min(1),
  project_id: z.string().nullable(),
  task_type: z.string().min(1),
  status: z.literal('failed'),
  /** The error message. */
  error: z.string(),
  /** The error's stable code (`timeout`, `worker_lost`, `invalid_input`, …). */
  error_type: z.string().min(1),
  /** The stack; absent when CALLBACK_INCLUDE_TRACEBACK is false. */
  traceback: z.string().optional(),
  failed_at: isoDate,
  metadata: jsonObject,
});

export const taskCancelledPayloadSchema = z.object({
  event: z.literal('task.cancelled'),
  task_id: z.string().min(1),
  project_id: z.string().nullable(),
  task_type: z.string().min(1),
  status: z.literal('cancelled'),
  cancelled_at: isoDate,
  metadata: jsonObject,
});

export const callbackPayloadSchema = z.discriminatedUnion('event', [
  taskCompletedPayloadSchema,
  taskFailedPayloadSchema,
  taskCancelledPayloadSchema,
]);

export type TaskCompletedPayload = z.infer<typeof taskCompletedPayloadSchema>;
export type TaskFailedPayload = z.infer<typeof taskFailedPayloadSchema>;
export type TaskCancelledPayload = z.infer<typeof taskCancelledPayloadSchema>;
export type CallbackPayload = z.infer<typeof callbackPayloadSchema>;
export type CallbackEvent = CallbackPayload['event'];

/** What the payload builders need to know about a task. */
export interface OutcomeTask {
  task_id: string;
  project_id: string | null;
  task_type: string;
  metadata: Record<string, unknown>;
}

/** A task failure as stored on the task record and sent in the callback. */
export interface Failure {
  message: string;
  error_type: string;
  traceback?: string;
}

export function completedPayload(
  task: OutcomeTask,
  result: Record<string, unknown>,
  processingTimeS: number,
  completedAt: Date,
): TaskCompletedPayload {
  return {
    event: 'task.completed',
    task_id: task.task_id,
    project_id: task.project_id,
    task_type: task.task_type,
    status: 'completed',
    result,
    // Milliseconds are plenty; more digits only add noise to the body.
    processing_time: Math.max(0, Math.round(processingTimeS * 1000) / 1000),
    completed_at: completedAt.toISOString(),
    metadata: task.metadata,
  };
}

export function failedPayload(
  task: OutcomeTask,
  failure: Failure,
  failedAt: Date,
  includeTraceback: boolean,
): TaskFailedPayload {
  const head = {
    event: 'task.failed' as const,
    task_id: task.task_id,
    project_id: task.project_id,
    task_type: task.task_type,
    status: 'failed' as const,
    error: failure.message,
    error_type: failure.error_type,
  };
  // The key is left out (not null) when tracebacks are off or unknown, so
  // receivers can tell "not sent" from "empty".
  const traceback = includeTraceback && failure.traceback !== undefined ? { traceback: failure.traceback } : {};
  return { ...head, ...traceback, failed_at: failedAt.toISOString(), metadata: task.metadata };
}

export function cancelledPayload(task: OutcomeTask, cancelledAt: Date): TaskCancelledPayload {
  return {
    event: 'task.cancelled',
    task_id: task.task_id,
    project_id: task.project_id,
    task_type: task.task_type,
    status: 'cancelled',
    cancelled_at: cancelledAt.toISOString(),
    metadata: task.metadata,
  };
}

/** The failure fields of any error: message, stable code, stack. */
export function failureFromError(err: Error): Failure {
  const failure: Failure = { message: err.message, error_type: errorCode(err) };
  if (typeof err.stack === 'string' && err.stack.length > 0) failure.traceback = err.stack;
  return failure;
}
