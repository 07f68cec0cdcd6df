/**
 * One attempt of one claimed delivery, from its route to its record: sign,
 * send (src/delivery/send.ts), let the retry policy decide, record the
 * attempt in the outbox, log what an operator should see. The dispatcher
 * (src/delivery/dispatcher.ts) decides when an attempt may start; this
 * module decides nothing about capacity.
 */
import type { Dispatcher as HttpDispatcher } from 'undici';
import type { Logger } from '../logger.js';
import { logs, redactUrl } from '../logger.js';
import type { AttemptRecord, ClaimedDelivery, Outbox } from './outbox.js';
import type { RetryPolicy } from './policy.js';
import { decide } from './policy.js';
import { sendAttempt } from './send.js';
import { childTraceparent } from '../trace.js';
import type { Signer } from './sign.js';

/** How to send one delivery: its signer and extra headers, or why it cannot be sent. */
export type Route = { signer: Signer; headers: Record<string, string> } | { error: string };

export interface AttemptOptions {
  outbox: Outbox;
  agent: HttpDispatcher;
  /** Signer and headers for a delivery (`default` = WEBHOOK_SECRET, `sub:<id>` = that subscription's). */
  route(d: ClaimedDelivery): Route | Promise<Route>;
  /** Policy for task callbacks. */
  policy: RetryPolicy;
  /** Policy for subscription deliveries. @default policy */
  subscriptionPolicy?: RetryPolicy;
  logger: Logger;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Called after every attempt (metrics, tests). */
  onAttempt?(d: ClaimedDelivery, attempt: AttemptRecord): void;
}

/**
 * Makes one attempt of `d` and records it. `sent` is called as soon as the
 * HTTP exchange is over (or was never started), before the attempt is
 * recorded, with whether the receiver answered: the per-host cap limits
 * requests to a receiver, and a Redis round trip must not hold a receiver's
 * slot. Rejects only when the record cannot be written.
 */
export type AttemptFn = (d: ClaimedDelivery, sent: (answered: boolean) => void) => Promise<void>;

export function createAttempt(opts: AttemptOptions): AttemptFn {
  return async (d, sent) => {
    const n = d.attempts + 1;
    const route = await opts.route(d);
    const startedAt = new Date();
    let record: AttemptRecord;
    let nextAt: number | null = null;
    if ('error' in route) {
      sent(false);
      record = { n, at: startedAt.toISOString(), status_code: null, duration_ms: 0, error: route.error, outcome: 'failed' };
    } else {
      // Custom headers first: the signature headers must win.
      const headers = { ...route.headers, ...route.signer.headers(d.msgId, Math.floor(startedAt.getTime() / 1000), d.body) };
      if (d.trace) headers.traceparent = childTraceparent(d.trace);
      const result = await sendAttempt({
        url: d.url,
        body: d.body,
        headers,
        dispatcher: opts.agent,
        timeoutMs: opts.timeoutMs,
        maxResponseBytes: opts.maxResponseBytes,
      });
      sent(result.error_kind !== 'timeout' && result.error_kind !== 'connection');
      const policy = d.sub ? (opts.subscriptionPolicy ?? opts.policy) : opts.policy;
      const decision = decide(policy, n, result);
      if (decision.outcome === 'retry') nextAt = Date.now() + (decision.delayMs ?? 0);
      record = {
        n,
        at: startedAt.toISOString(),
        status_code: result.status_code,
        duration_ms: result.duration_ms,
        error: result.error,
        outcome: decision.outcome,
      };
      // Subscription deliveries keep what the receiver said (bounded), for the delivery log.
      if (d.sub) {
        record.response_headers = result.response_headers;
        record.response_excerpt = result.response_excerpt;
      }
    }
    const state = await opts.outbox.record(d.id, record, nextAt, d.lease);
    opts.onAttempt?.(d, record);
    if (state === 'stale') {
      // Only a stalled process gets here (an attempt never starts without room in its lease).
      opts.logger.warn('callback attempt outlived its lease; recorded, but another claim decides the delivery', { delivery_id: d.id, task_id: d.taskId, attempt: n });
      return;
    }
    // A success is logged at debug only: skip parsing the URL for a line that is dropped.
    if (record.outcome === 'delivered' && !logs(opts.logger, 'debug')) return;
    const meta = { delivery_id: d.id, task_id: d.taskId, attempt: n, url: redactUrl(d.url), status_code: record.status_code, outcome: record.outcome };
    if (record.outcome === 'delivered') opts.logger.debug('callback delivered', meta);
    else if (record.outcome === 'retry') opts.logger.info('callback attempt failed; will retry', { ...meta, error: record.error, next_at: nextAt });
    else opts.logger.warn('callback failed for good', { ...meta, error: record.error });
  };
}
