/**
 * Subscription events: the Standard Webhooks envelope `{ type, timestamp,
 * data }` around the task callback payload (terminal events) or a small
 * status object (`task.started`, `task.progress`).
 */
import { z } from 'zod';
import { callbackPayloadSchema, type CallbackPayload, type OutcomeTask } from './payload.js';

export const EVENT_TYPES = ['task.started', 'task.progress', 'task.completed', 'task.failed', 'task.cancelled'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const isoDate = z.string().datetime({ offset: true });

export const taskStatusDataSchema = z.object({
  task_id: z.string().min(1),
  task_type: z.string().min(1),
  project_id: z.string().nullable(),
  status: z.enum(['running']),
  progress: z.number().min(0).max(100).optional(),
  metadata: z.record(z.string(), z.unknown()),
});

export const taskStatusEventSchema = z.object({
  type: z.enum(['task.started', 'task.progress']),
  timestamp: isoDate,
  data: taskStatusDataSchema,
});

export const taskOutcomeEventSchema = z.object({
  type: z.enum(['task.completed', 'task.failed', 'task.cancelled']),
  timestamp: isoDate,
  data: callbackPayloadSchema,
});

export const subscriptionEventSchema = z.union([taskStatusEventSchema, taskOutcomeEventSchema]);
export type SubscriptionEvent = z.infer<typeof subscriptionEventSchema>;

/** `task.completed` / `task.failed` / `task.cancelled`: the callback payload as `data`. */
export function outcomeEvent(payload: CallbackPayload, at: Date): SubscriptionEvent {
  return { type: payload.event, timestamp: at.toISOString(), data: payload };
}

export function statusEvent(type: 'task.started' | 'task.progress', task: OutcomeTask, at: Date, progress?: number): SubscriptionEvent {
  const data: z.infer<typeof taskStatusDataSchema> = {
    task_id: task.task_id,
    task_type: task.task_type,
    project_id: task.project_id,
    status: 'running',
    ...(progress === undefined ? {} : { progress }),
    metadata: task.metadata,
  };
  return { type, timestamp: at.toISOString(), data };
}
