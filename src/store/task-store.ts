/**
 * The worker's side of the task record: every state change is one Lua script,
 * so concurrent workers, crashes and re-runs can never produce two outcomes.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { taskDeliveryId, taskMessageId } from './keys.js';
import { callScript, defineScript } from './scripts.js';

export type TaskFields = Record<string, string>;

export type StartVerdict =
  | { kind: 'missing' }
  | { kind: 'done'; status: string }
  | { kind: 'lost'; fields: TaskFields }
  | { kind: 'run'; fields: TaskFields };

export interface Outcome {
  status: 'completed' | 'failed' | 'cancelled';
  result?: Record<string, unknown>;
  error?: { message: string; error_type: string; traceback?: string };
}

export interface OutboxEntry {
  deliveryId: string;
  url: string;
  body: string;
  msgId: string;
  event: string;
}

export type FinishResult = 'ok' | 'done' | 'stale' | 'missing';

export interface TaskStore {
  start(taskId: string, maxLost: number): Promise<StartVerdict>;
  /** Writes the outcome and its delivery (claimed until `leaseUntil`). */
  finish(fields: TaskFields, outcome: Outcome, delivery: OutboxEntry | null, leaseUntil: number): Promise<FinishResult>;
  /** Back to `queued`; with `jobQueue`, also moves the bee-queue job back to waiting. */
  requeue(taskId: string, lastError: string | null, jobQueue?: string): Promise<boolean>;
  setProgress(taskId: string, percent: number): Promise<void>;
}

function pairs(flat: string[], from: number): TaskFields {
  const out: TaskFields = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

export function createTaskStore(redis: Redis, keys: Keys): TaskStore {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'start', 1);
  defineScript(redis, lua, 'finish', 3);
  defineScript(redis, lua, 'requeue', 3);
  return {
    async start(taskId, maxLost) {
      const r = await callScript<string[]>(redis, 'start', [keys.task(taskId)], [Date.now(), maxLost]);
      switch (r[0]) {
        case 'run':
          return { kind: 'run', fields: pairs(r, 1) };
        case 'lost':
          return { kind: 'lost', fields: pairs(r, 1) };
        case 'done':
          return { kind: 'done', status: r[1] ?? '' };
        default:
          return { kind: 'missing' };
      }
    },
    async finish(fields, outcome, delivery, leaseUntil) {
      const id = fields.id ?? '';
      const dId = delivery?.deliveryId ?? 'none';
      return callScript<FinishResult>(
        redis,
        'finish',
        [keys.task(id), keys.delivery(dId), keys.due],
        [
          Date.now(),
          outcome.status,
          outcome.result === undefined ? '' : JSON.stringify(outcome.result),
          outcome.error === undefined ? '' : JSON.stringify(outcome.error),
          fields.gen ?? '1',
          delivery?.deliveryId ?? '',
          delivery?.url ?? '',
          delivery?.body ?? '',
          delivery?.msgId ?? '',
          delivery?.event ?? '',
          leaseUntil,
          fields.tenant ?? '',
        ],
      );
    },
    async requeue(taskId, lastError, jobQueue) {
      const active = jobQueue ? `${keys.bq}:${jobQueue}:active` : '';
      const waiting = jobQueue ? `${keys.bq}:${jobQueue}:waiting` : '';
      const n = await callScript<number>(redis, 'requeue', [keys.task(taskId), active, waiting], [taskId, lastError ?? '']);
      return n === 1;
    },
    async setProgress(taskId, percent) {
      await redis.hset(keys.task(taskId), 'progress', String(percent));
    },
  };
}

/** The outbox entry for a task's callback, or null when it has no callback URL. */
export function taskOutboxEntry(fields: TaskFields, event: string, body: string): OutboxEntry | null {
  const url = fields.cb;
  if (!url) return null;
  const gen = Number(fields.gen ?? '1');
  const id = fields.id ?? '';
  return { deliveryId: taskDeliveryId(id, gen), url, body, msgId: taskMessageId(id, gen), event };
}
