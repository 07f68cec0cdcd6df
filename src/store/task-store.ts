/**
 * The worker's side of the task record: every state change is one Lua script,
 * so concurrent workers, crashes and re-runs can never produce two outcomes,
 * and an outcome never exists without its deliveries.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { taskDeliveryId, taskMessageId } from './keys.js';
import { batchedScript, callScript, defineScript } from './scripts.js';

export type TaskFields = Record<string, string>;

export type StartVerdict =
  | { kind: 'missing' }
  | { kind: 'done'; status: string }
  | { kind: 'lost'; fields: TaskFields }
  | { kind: 'cancel'; fields: TaskFields }
  | { kind: 'run'; fields: TaskFields };

/** A job `take` moved to `active` for this worker, with its task's start verdict. */
export interface TakenJob {
  /** The job id, which is the task id. */
  id: string;
  verdict: StartVerdict;
  /** bee-queue's job JSON ('' for `missing` and `done`: those are acknowledged already). */
  job: string;
}

/** Where a requeued job goes: rewritten (bee-queue's job JSON) and due at `at` (epoch ms; now or earlier = at once). */
export interface JobReturn {
  data: string;
  at: number;
}

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
  /**
   * Takes up to `max` jobs waiting in `queue` (after `moved`, a job the caller
   * already moved to `active` itself) and starts their tasks, in one step.
   */
  take(queue: string, max: number, moved: string | null, maxLost: number): Promise<TakenJob[]>;
  /**
   * Writes the outcome and its deliveries, closes the task's coalesced
   * progress deliveries, and acknowledges its bee-queue job.
   */
  finish(fields: TaskFields, outcome: Outcome, deliveries: readonly OutboxEntry[], progressIds: readonly string[], leaseUntil: number): Promise<FinishResult>;
  /** Creates deliveries for a non-terminal event; returns the ids created. */
  enqueue(fields: TaskFields, deliveries: readonly OutboxEntry[], leaseUntil: number): Promise<string[]>;
  /** Replaces the task's coalesced progress event for one endpoint. */
  progressEvent(fields: TaskFields, entry: ProgressEntry, intervalMs: number): Promise<boolean>;
  /**
   * A running task back to `queued`, and its job (held by this worker) back in
   * line: at the front of `waiting` without `job` (a hand-back at shutdown),
   * or rewritten and due at `job.at` (the task's own retry, with `lastError`).
   * Only for claim `claim` (the record's `claim` as take returned it): a stale
   * call changes nothing. Returns whether the task was requeued.
   */
  requeue(taskId: string, queue: string, claim: string, lastError: string | null, job?: JobReturn): Promise<boolean>;
  /**
   * Puts a job this worker could not settle back in line, rewritten and due at
   * `job.at`; the record is left as it is. Only for claim `claim`. Returns
   * whether the job was still held.
   */
  pauseJob(taskId: string, queue: string, claim: string, job: JobReturn): Promise<boolean>;
  /**
   * A job taken or moved to `active` but never started here (the worker
   * stopped): back to the front of the line, unless its task is running.
   * Returns whether the job moved.
   */
  giveBack(taskId: string, queue: string): Promise<boolean>;
  setProgress(taskId: string, percent: number): Promise<void>;
}

/** The record as take.lua returns it: one JSON object of string fields. */
function parseRecord(json: string | undefined): TaskFields {
  return JSON.parse(json ?? '{}') as TaskFields;
}

/** The deliveries as the scripts read them (lib/add-deliveries.lua): their count, then 9 values each. */
function pushDeliveries(args: (string | number)[], deliveries: readonly OutboxEntry[]): void {
  args.push(deliveries.length);
  for (const d of deliveries) args.push(d.deliveryId, d.url, d.body, d.msgId, d.event, d.secret, d.sub, d.claim ? '1' : '0', d.trace);
}

export function createTaskStore(redis: Redis, keys: Keys): TaskStore {
  const lua = new URL('./lua/', import.meta.url);
  const dlvLua = new URL('../delivery/lua/', import.meta.url);
  defineScript(redis, lua, 'take', 4);
  defineScript(redis, lua, 'finish', 0);
  defineScript(redis, lua, 'requeue', 1);
  const bq = (queue: string): string => `${keys.bq}:${queue}:`;
  // The outcomes of one event-loop turn are written in one script call (see finish.lua).
  const finishBatched = batchedScript<string[]>(redis, 'finish', () => [Date.now(), keys.task(''), keys.deliveryPrefix, keys.webhookPrefix, `${keys.bq}:`]);
  const requeue = (taskId: string, queue: string, how: 'handback' | 'retry' | 'pause' | 'untaken', claim: string, lastError: string | null, job: JobReturn | null) =>
    callScript<[number, number]>(redis, 'requeue', [keys.task(taskId)], [taskId, bq(queue), how, lastError ?? '', Date.now(), job?.data ?? '', job?.at ?? 0, claim]);
  defineScript(redis, dlvLua, 'enqueue', 1);
  defineScript(redis, dlvLua, 'progress', 2);
  return {
    async take(queue, max, moved, maxLost) {
      const q = bq(queue);
      const r = await callScript<string[]>(redis, 'take', [`${q}waiting`, `${q}active`, `${q}stalling`, `${q}jobs`], [max, moved ?? '', Date.now(), maxLost, keys.task('')]);
      const taken: TakenJob[] = [];
      for (let i = 0; i + 3 < r.length; i += 4) {
        const id = r[i] as string;
        const verdict = r[i + 1];
        const a = r[i + 2] ?? '';
        const job = r[i + 3] ?? '';
        if (verdict === 'run' || verdict === 'lost' || verdict === 'cancel') taken.push({ id, verdict: { kind: verdict, fields: parseRecord(a) }, job });
        else if (verdict === 'done') taken.push({ id, verdict: { kind: 'done', status: a }, job });
        else taken.push({ id, verdict: { kind: 'missing' }, job });
      }
      return taken;
    },
    async finish(fields, outcome, deliveries, progressIds, leaseUntil) {
      const callback = deliveries.find((d) => d.sub === '');
      const args: (string | number)[] = [
        fields.id ?? '',
        outcome.status,
        outcome.result === undefined ? '' : JSON.stringify(outcome.result),
        outcome.error === undefined ? '' : JSON.stringify(outcome.error),
        fields.gen ?? '1',
        fields.tenant ?? '',
        leaseUntil,
        callback?.deliveryId ?? '',
        progressIds.length,
      ];
      for (const id of progressIds) args.push(id);
      pushDeliveries(args, deliveries);
      const r = await finishBatched(args);
      if (r[0] === 'ok') return { kind: 'ok', created: r.slice(1) };
      return { kind: r[0] === 'done' || r[0] === 'stale' ? r[0] : 'missing' };
    },
    enqueue(fields, deliveries, leaseUntil) {
      if (deliveries.length === 0) return Promise.resolve([]);
      const args: (string | number)[] = [Date.now(), leaseUntil, keys.deliveryPrefix, keys.webhookPrefix, fields.tenant ?? ''];
      pushDeliveries(args, deliveries);
      return callScript<string[]>(redis, 'enqueue', [keys.task(fields.id ?? '')], args);
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
    async requeue(taskId, queue, claim, lastError, job) {
      const [requeued] = await requeue(taskId, queue, job ? 'retry' : 'handback', claim, lastError, job ?? null);
      return requeued === 1;
    },
    async pauseJob(taskId, queue, claim, job) {
      const [, moved] = await requeue(taskId, queue, 'pause', claim, null, job);
      return moved === 1;
    },
    async giveBack(taskId, queue) {
      const [, moved] = await requeue(taskId, queue, 'untaken', '', null, null);
      return moved === 1;
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
