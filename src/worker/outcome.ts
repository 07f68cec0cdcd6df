/**
 * Pure builders: from a task record, an outcome and the matching
 * subscriptions, the exact deliveries to write (bodies already serialised, so
 * the bytes stored are the bytes signed and sent).
 */
import { subscriptionMessageId, taskDeliveryId } from '../store/keys.js';
import type { OutboxEntry, Outcome, ProgressEntry, TaskFields } from '../store/task-store.js';
import { taskOutboxEntry } from '../store/task-store.js';
import { cancelledPayload, completedPayload, failedPayload, type CallbackPayload, type OutcomeTask } from '../delivery/payload.js';
import { outcomeEvent, statusEvent } from '../delivery/events.js';
import type { SubscriptionTarget } from '../delivery/subscriptions.js';
import type { ClaimedDelivery } from '../delivery/outbox.js';

export function outcomeTask(fields: TaskFields): OutcomeTask {
  let metadata: Record<string, unknown> = {};
  try {
    metadata = fields.meta ? (JSON.parse(fields.meta) as Record<string, unknown>) : {};
  } catch {
    metadata = {};
  }
  return {
    task_id: fields.id ?? '',
    project_id: fields.project ? fields.project : null,
    task_type: fields.type ?? '',
    metadata,
  };
}

export function outcomePayload(fields: TaskFields, outcome: Outcome, now: Date, includeTraceback: boolean): CallbackPayload {
  const task = outcomeTask(fields);
  if (outcome.status === 'completed') {
    const started = Number(fields.started ?? now.getTime());
    return completedPayload(task, outcome.result ?? {}, Math.max(0, now.getTime() - started) / 1000, now);
  }
  if (outcome.status === 'cancelled') return cancelledPayload(task, now);
  return failedPayload(task, outcome.error ?? { message: 'unknown error', error_type: 'error' }, now, includeTraceback);
}

function subscriptionEntry(fields: TaskFields, sub: SubscriptionTarget, event: string, body: string, claim: boolean): OutboxEntry {
  const gen = Number(fields.gen ?? '1');
  const deliveryId = `${taskDeliveryId(fields.id ?? '', gen)}.${event}.${sub.id}`;
  return { deliveryId, url: sub.url, body, msgId: subscriptionMessageId(deliveryId), event, secret: `sub:${sub.id}`, sub: sub.id, claim, trace: fields.trace ?? '' };
}

/** The task callback (if any) and one delivery per subscription that wants the outcome event. */
export function outcomeDeliveries(fields: TaskFields, payload: CallbackPayload, subs: readonly SubscriptionTarget[], now: Date, claim: boolean): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  const callback = taskOutboxEntry(fields, payload.event, JSON.stringify(payload));
  if (callback) out.push({ ...callback, claim });
  if (subs.length > 0) {
    const body = JSON.stringify(outcomeEvent(payload, now));
    for (const sub of subs) out.push(subscriptionEntry(fields, sub, payload.event, body, claim));
  }
  return out;
}

/** `task.started` deliveries, one per subscription that wants it. */
export function startedDeliveries(fields: TaskFields, subs: readonly SubscriptionTarget[], now: Date): OutboxEntry[] {
  if (subs.length === 0) return [];
  const body = JSON.stringify(statusEvent('task.started', outcomeTask(fields), now));
  return subs.map((sub) => subscriptionEntry(fields, sub, 'task.started', body, true));
}

/** The id of the coalesced progress delivery of a task for one endpoint. */
export function progressDeliveryId(taskId: string, subId: string): string {
  return `${taskId}.progress.${subId}`;
}

/** A fresh `task.progress` event (new webhook-id per value: each is its own event). */
export function progressEntry(fields: TaskFields, sub: SubscriptionTarget, percent: number, now: Date): ProgressEntry {
  const deliveryId = progressDeliveryId(fields.id ?? '', sub.id);
  const body = JSON.stringify(statusEvent('task.progress', outcomeTask(fields), now, percent));
  return { deliveryId, url: sub.url, body, msgId: subscriptionMessageId(`${deliveryId}.${now.getTime()}.${percent}`), sub: sub.id };
}

/**
 * The claimed form of an entry this process just wrote, for the dispatcher's
 * fast path: the creator's claim (token 0), running out at `leaseUntil`, the
 * lease end the writing script was given.
 */
export function claimed(entry: OutboxEntry, taskId: string, leaseUntil: number): ClaimedDelivery {
  return {
    lease: 0,
    leaseUntil,
    id: entry.deliveryId,
    url: entry.url,
    body: entry.body,
    msgId: entry.msgId,
    attempts: 0,
    secret: entry.secret,
    event: entry.event,
    taskId,
    sub: entry.sub,
    trace: entry.trace,
  };
}
