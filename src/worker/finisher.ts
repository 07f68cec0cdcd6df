/**
 * The outcome hook: turns a task's final outcome into its terminal state plus
 * every delivery it causes (the task callback and matching subscriptions), in
 * one Lua script, then hands the deliveries to this process's dispatcher, if
 * it has one (otherwise they are due at once for any dispatcher).
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Outcome, TaskFields, TaskStore } from '../store/task-store.js';
import type { DeliveryDispatcher } from '../delivery/dispatcher.js';
import type { SubscriptionMatcher } from '../delivery/subscriptions.js';
import { claimed, outcomeDeliveries, outcomePayload, progressDeliveryId } from './outcome.js';
import { subscribersOf } from './task-events.js';
import type { Metrics } from '../metrics/metrics.js';

export interface Finisher {
  /** Returns what the store said: `ok`, or `done`/`stale`/`missing` when another outcome won. */
  finish(fields: TaskFields, outcome: Outcome, log: Logger): Promise<string>;
}

export interface FinisherOptions {
  config: Pick<Config, 'CALLBACK_INCLUDE_TRACEBACK'>;
  store: TaskStore;
  subscriptions: SubscriptionMatcher;
  dispatcher: DeliveryDispatcher | null;
  metrics?: Metrics;
}

export function createFinisher(opts: FinisherOptions): Finisher {
  return {
    async finish(fields, outcome, log) {
      const now = new Date();
      const payload = outcomePayload(fields, outcome, now, opts.config.CALLBACK_INCLUDE_TRACEBACK);
      const [subs, progressSubs] = await Promise.all([
        subscribersOf(opts.subscriptions, fields, payload.event),
        subscribersOf(opts.subscriptions, fields, 'task.progress'),
      ]);
      const entries = outcomeDeliveries(fields, payload, subs, now, opts.dispatcher !== null);
      const progressIds = progressSubs.map((s) => progressDeliveryId(fields.id ?? '', s.id));
      const leaseEnd = Date.now() + (opts.dispatcher?.leaseMs ?? 0);
      const written = await opts.store.finish(fields, outcome, entries, progressIds, leaseEnd);
      log.info(`task ${outcome.status}`, { status: outcome.status, error_type: outcome.error?.error_type, write: written.kind });
      if (written.kind === 'ok' && opts.metrics) {
        const labels = { task_type: fields.type ?? '' };
        opts.metrics.tasksFinished.inc({ ...labels, status: outcome.status });
        if (fields.started && outcome.status !== 'cancelled') {
          opts.metrics.taskDuration.observe(labels, Math.max(0, now.getTime() - Number(fields.started)) / 1000);
        }
      }
      if (written.kind === 'ok' && opts.dispatcher) {
        const created = new Set(written.created);
        for (const e of entries) if (created.has(e.deliveryId)) opts.dispatcher.deliverNow(claimed(e, fields.id ?? '', leaseEnd));
      }
      return written.kind;
    },
  };
}
