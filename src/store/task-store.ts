/**
 * The worker's side of the task record: every state change is one Lua script,
 * so concurrent workers, crashes and re-runs can never produce two outcomes,
 * and an outcome never exists without its deliveries.
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
  | { kind: 'cancel'; fields: TaskFields }
  | { kind: 'run'; fields: TaskFields };

export interface Outcome {
  status: 'completed' | 'failed' | 'cancelled';
  result?: Record<string, unknown>;
  error?: { message: string; error_type: string; traceback?: string };
}

/** One delivery to create: the task callback (`sub` empty) or a subscription event. */
export interface OutboxEntry {
  deliveryId: string;
  url: string;
  body: string;
  msgId: string;
  event: string;
  /** `default` (WEBHOOK_SECRET) or `sub:<id>`. */
  secret: string;
  /** Subscription id, or '' for the task's own callback. */
  sub: string;
  /** The caller sends it right away (it is leased to the caller). */
  claim: boolean;
  /** The task's traceparent ('' when none): receivers get a child of it. */
  trace: string;
}

export type FinishResult = { kind: 'ok'; created: string[] } | { kind: 'done' | 'stale' | 'missing' };

export interface ProgressEntry {
  deliveryId: string;
  url: string;
  body: string;
  msgId: string;
  sub: string;
}

export interface TaskStore {
  start(taskId: string, maxLost: number): Promise<StartVerdict>;
  /** Writes the outcome and its deliveries; closes the task's coalesced progress deliveries. */
  finish(fields: TaskFields, outcome: Outcome, deliveries: readonly OutboxEntry[], progressIds: readonly string[], leaseUntil: number): Promise<FinishResult>;
  /** Creates deliveries for a non-terminal event; returns the ids created. */
  enqueue(fields: TaskFields, deliveries: readonly OutboxEntry[], leaseUntil: number): Promise<string[]>;
  /** Replaces the task's coalesced progress event for one endpoint. */
  progressEvent(fields: TaskFields, entry: ProgressEntry, intervalMs: number): Promise<boolean>;
  /** Back to `queued`; with `jobQueue`, also moves the bee-queue job back to waiting. */
  requeue(taskId: string, lastError: string | null, jobQueue?: string): Promise<boolean>;
  setProgress(taskId: string, percent: number): Promise<void>;
}

/** The record as start.lua returns it: one JSON object of string fields. */
function parseRecord(json: string | undefined): TaskFields {
  return JSON.parse(json ?? '{}') as TaskFields;
}

function flatten(deliveries: readonly OutboxEntry[]): string[] {
  const out: string[] = [String(deliveries.length)];
  for (const d of deliveries) out.push(d.deliveryId, d.url, d.body, d.msgId, d.event, d.secret, d.sub, d.claim ? '1' : '0', d.trace);
  return out;
}

export function createTaskStore(redis: Redis, keys: Keys): TaskStore {
  const lua = new URL('./lua/', import.meta.url);
  const dlvLua = new URL('../delivery/lua/', import.meta.url);
  defineScript(redis, lua, 'start', 1);
  defineScript(redis, lua, 'finish', 1);
  defineScript(redis, lua, 'requeue', 3);
  defineScript(redis, dlvLua, 'enqueue', 1);
  defineScript(redis, dlvLua, 'progress', 2);
  return {
    async start(taskId, maxLost) {
      const r = await callScript<string[]>(redis, 'start', [keys.task(taskId)], [Date.now(), maxLost]);
      switch (r[0]) {
        case 'run':
          return { kind: 'run', fields: parseRecord(r[1]) };
        case 'lost':
          return { kind: 'lost', fields: parseRecord(r[1]) };
        case 'cancel':
          return { kind: 'cancel', fields: parseRecord(r[1]) };
        case 'done':
          return { kind: 'done', status: r[1] ?? '' };
        default:
          return { kind: 'missing' };
      }
    },
    async finish(fields, outcome, deliveries, progressIds, leaseUntil) {
      const callback = deliveries.find((d) => d.sub === '');
      const r = await callScript<string[]>(redis, 'finish', [keys.task(fields.id ?? '')], [
        Date.now(),
        outcome.status,
        outcome.result === undefined ? '' : JSON.stringify(outcome.result),
        outcome.error === undefined ? '' : JSON.stringify(outcome.error),
        fields.gen ?? '1',
        fields.tenant ?? '',
        leaseUntil,
        keys.deliveryPrefix,
        keys.webhookPrefix,
        callback?.deliveryId ?? '',
        String(progressIds.length),
        ...progressIds,
        ...flatten(deliveries),
      ]);
      if (r[0] === 'ok') return { kind: 'ok', created: r.slice(1) };
      return { kind: r[0] === 'done' || r[0] === 'stale' ? r[0] : 'missing' };
    },
    enqueue(fields, deliveries, leaseUntil) {
      if (deliveries.length === 0) return Promise.resolve([]);
      return callScript<string[]>(redis, 'enqueue', [keys.task(fields.id ?? '')], [
        Date.now(),
        leaseUntil,
        keys.deliveryPrefix,
        keys.webhookPrefix,
        fields.tenant ?? '',
        ...flatten(deliveries),
      ]);
    },
    async progressEvent(fields, entry, intervalMs) {
      const n = await callScript<number>(redis, 'progress', [keys.task(fields.id ?? ''), keys.delivery(entry.deliveryId)], [
        Date.now(),
        intervalMs,
        keys.deliveryPrefix,
        keys.webhookPrefix,
        fields.tenant ?? '',
        entry.deliveryId,
        entry.url,
        entry.body,
        entry.msgId,
        `sub:${entry.sub}`,
        entry.sub,
      ]);
      return n === 1;
    },
    async requeue(taskId, lastError, jobQueue) {
      const active = jobQueue ? `${keys.bq}:${jobQueue}:active` : '';
      const waiting = jobQueue ? `${keys.bq}:${jobQueue}:waiting` : '';
      const n = await callScript<number>(redis, 'requeue', [keys.task(taskId), active, waiting], [taskId, lastError ?? '', Date.now()]);
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
  return { deliveryId: taskDeliveryId(id, gen), url, body, msgId: taskMessageId(id, gen), event, secret: 'default', sub: '', claim: true, trace: fields.trace ?? '' };
}
