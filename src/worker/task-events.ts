/**
 * The subscription events a run causes before its outcome: `task.started`
 * once it starts, and coalesced `task.progress` events as it reports
 * progress. Neither may fail the task: the caller logs their errors.
 */
import type { Config } from '../config.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import type { SubscriptionMatcher, SubscriptionTarget } from '../delivery/subscriptions.js';
import type { TaskFields, TaskStore } from '../store/task-store.js';
import { claimed, progressEntry, startedDeliveries } from './outcome.js';

/** The subscriptions of the task's tenant that want `event` for this task. */
export function subscribersOf(subscriptions: SubscriptionMatcher, fields: TaskFields, event: string): Promise<SubscriptionTarget[]> {
  return subscriptions.matching(fields.tenant ?? '', event, fields.type ?? '', fields.project ? fields.project : null);
}

export interface TaskEventsOptions {
  config: Pick<Config, 'PROGRESS_EVENT_INTERVAL_MS'>;
  store: TaskStore;
  subscriptions: SubscriptionMatcher;
  /** Sends deliveries right after they are written; null = leave them to another process. */
  dispatcher: DeliveryDispatcher | null;
}

export interface TaskEvents {
  /** Writes (and hands to the dispatcher) a `task.started` delivery per subscription that wants one. */
  announceStart(fields: TaskFields): Promise<void>;
  /** A progress listener for one run: each value replaces the pending `task.progress` event per subscription. */
  progressEvents(fields: TaskFields, log: Logger): (percent: number) => void;
}

export function createTaskEvents(opts: TaskEventsOptions): TaskEvents {
  const { store } = opts;
  return {
    async announceStart(fields) {
      const entries = startedDeliveries(fields, await subscribersOf(opts.subscriptions, fields, 'task.started'), new Date());
      if (entries.length === 0) return;
      const leaseUntil = Date.now() + (opts.dispatcher?.leaseMs ?? 0);
      const created = new Set(await store.enqueue(fields, entries, leaseUntil));
      if (opts.dispatcher) for (const e of entries) if (created.has(e.deliveryId)) opts.dispatcher.deliverNow(claimed(e, fields.id ?? '', leaseUntil));
    },
    progressEvents: (fields, log) => (percent) => {
      subscribersOf(opts.subscriptions, fields, 'task.progress')
        .then((subs) =>
          Promise.all(subs.map((s) => store.progressEvent(fields, progressEntry(fields, s, percent, new Date()), opts.config.PROGRESS_EVENT_INTERVAL_MS))),
        )
        .catch((err: unknown) => log.debug('progress event not written', { err: coerceError(err).message }));
    },
  };
}
