/**
 * Sends callbacks: the worker hands over deliveries it has just written and
 * claimed (no queue hop on the common path), and a poller claims whatever is
 * due in Redis (retries, deliveries whose process died). In-flight attempts
 * are capped per process and per destination host, so one slow receiver
 * cannot take every slot: over its cap, a delivery goes back to Redis.
 * An attempt starts only while its claim's lease has room for the whole
 * attempt: a delivery that waited here too long goes back to Redis instead,
 * so no other process can claim it while this one still sends it.
 */
import type { Dispatcher as HttpDispatcher } from 'undici';
import type { Logger } from '../logger.js';
import { logs, redactUrl } from '../logger.js';
import { coerceError } from '../errors.js';
import type { AttemptRecord, ClaimedDelivery, Outbox } from './outbox.js';
import type { RetryPolicy } from './policy.js';
import { decide } from './policy.js';
import { sendAttempt } from './send.js';
import { urlMemo } from './url-cache.js';
import { childTraceparent } from '../trace.js';
import type { Signer } from './sign.js';

/** How to send one delivery: its signer and extra headers, or why it cannot be sent. */
export type Route = { signer: Signer; headers: Record<string, string> } | { error: string };

export interface DispatcherOptions {
  outbox: Outbox;
  agent: HttpDispatcher;
  /** Signer and headers for a delivery (`default` = WEBHOOK_SECRET, `sub:<id>` = that subscription's). */
  route(d: ClaimedDelivery): Route | Promise<Route>;
  /** Policy for task callbacks. */
  policy: RetryPolicy;
  /** Policy for subscription deliveries. @default policy */
  subscriptionPolicy?: RetryPolicy;
  /** In-flight attempts per subscription endpoint. @default hostConcurrency */
  endpointConcurrency?: number;
  logger: Logger;
  timeoutMs: number;
  maxResponseBytes: number;
  concurrency: number;
  hostConcurrency: number;
  /** How often to look for due deliveries. @default 100 */
  pollMs?: number;
  /** How long a claim keeps other processes off a delivery. @default timeoutMs + 5000 */
  leaseMs?: number;
  /**
   * Room an attempt needs in its lease beyond `timeoutMs` to start: the
   * route lookup before the request, the record after it, the fast path's
   * hand-over after its creation script, clock differences between
   * processes. Must be less than `leaseMs - timeoutMs`. @default 2000
   */
  leaseMarginMs?: number;
  /** Called after every attempt (metrics, tests). */
  onAttempt?(d: ClaimedDelivery, attempt: AttemptRecord): void;
}

export interface DeliveryDispatcher {
  /** Starts polling Redis for due deliveries. */
  start(): void;
  /** Attempts a delivery this process has already claimed. */
  deliverNow(d: ClaimedDelivery): void;
  /**
   * Stops polling and waits (bounded) for attempts in flight; it does not
   * abort those still running after `graceMs` (the agent's owner does).
   */
  stop(graceMs: number): Promise<void>;
  inFlight(): number;
  /** How long a claim keeps others off a delivery. */
  readonly leaseMs: number;
}

const hosts = urlMemo((u) => u.host);
/** Host of a callback URL ('' when it does not parse), for the per-host cap. */
const hostOf = (url: string): string => hosts(url) ?? '';

/** Shortest wait in Redis for a delivery whose receiver (or this process) is saturated. */
const SATURATED_MIN_DELAY_MS = 200;
/** A receiver that answered an attempt this recently (or started being sent to) is draining its queue here (see maxWaiting). */
const ANSWERING_MS = 1_000;
/** Deliveries that may wait here per slot of a receiver: a quiet one's, and an answering one's. */
const QUIET_QUEUE_PER_SLOT = 4;
const ANSWERING_QUEUE_PER_SLOT = 64;

export function createDeliveryDispatcher(opts: DispatcherOptions): DeliveryDispatcher {
  const pollMs = opts.pollMs ?? 100;
  // Longer than any attempt can take, so only a dead process loses its lease.
  const leaseMs = opts.leaseMs ?? opts.timeoutMs + 5_000;
  const marginMs = opts.leaseMarginMs ?? 2_000;
  if (leaseMs - opts.timeoutMs <= marginMs) {
    throw new RangeError(`leaseMs (${leaseMs}) must exceed timeoutMs (${opts.timeoutMs}) + leaseMarginMs (${marginMs}): no attempt could start`);
  }
  /** In-flight attempts per `h:<host>` and per `s:<subscription>`. */
  const perHost = new Map<string, number>();
  let inFlight = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let idle: (() => void) | null = null;

  const release = (d: ClaimedDelivery, delayMs: number): void => {
    opts.outbox.release(d.id, Date.now() + delayMs, d.lease).catch((err: unknown) => {
      opts.logger.warn('could not release a delivery; its lease will expire', { delivery_id: d.id, err: coerceError(err).message });
    });
  };

  /** The last moment an attempt of `d` may start and still end within its lease. */
  const startBy = (d: ClaimedDelivery): number => d.leaseUntil - opts.timeoutMs - marginMs;

  /**
   * One attempt. `sent` is called as soon as the HTTP exchange is over (or
   * was never started), before the attempt is recorded: the per-host cap
   * limits requests to a receiver, and a Redis round trip must not hold a
   * receiver's slot.
   */
  const attempt = async (d: ClaimedDelivery, sent: (answered: boolean) => void): Promise<void> => {
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

  const endpointCap = opts.endpointConcurrency ?? opts.hostConcurrency;
  const capOf = (slot: string): number => (slot.startsWith('s:') ? endpointCap : opts.hostConcurrency);
  /**
   * Deliveries waiting here for a slot of a busy host/endpoint (or for any
   * slot), oldest first. Bounded: beyond it they wait in Redis instead, so a
   * hanging receiver cannot pile up work in this process.
   */
  const waiting = new Map<string, ClaimedDelivery[]>();
  /**
   * When each busy host/endpoint last answered an attempt (any HTTP status),
   * or, if it has not answered since it was last idle, when it was first sent to.
   */
  const answeredAt = new Map<string, number>();
  /** How long `slot` has been silent (0 for one not sent to). */
  const silentFor = (slot: string, now: number): number => now - (answeredAt.get(slot) ?? now);
  /**
   * How many deliveries may wait here for a slot of `slot`. A receiver that
   * keeps answering is draining this queue, so it may run deep: released to
   * Redis, its deliveries would wait there behind every delivery due before
   * them, a hanging receiver's whole backlog included (a healthy receiver's
   * callbacks then came in up to ~20 s late in the bench's isolation phase).
   * Each still leaves for Redis once it could no longer start within its
   * lease (sweep). A receiver that has gone quiet (no answer for
   * ANSWERING_MS while sent to) keeps a short queue here.
   */
  const maxWaiting = (slot: string): number =>
    capOf(slot) * (silentFor(slot, Date.now()) <= ANSWERING_MS ? ANSWERING_QUEUE_PER_SLOT : QUIET_QUEUE_PER_SLOT);
  let waitingCount = 0;

  /**
   * A delivery that finds its receiver saturated goes back to Redis for about
   * as long as the receiver has been silent (at least 200 ms, at most one
   * attempt deadline): a busy receiver that keeps answering is retried soon,
   * and a hanging one's backlog is not claimed and released again every few
   * hundred milliseconds, which cost Redis two script calls per delivery per round.
   */
  const saturatedDelay = (slot: string): number => {
    const base = Math.min(opts.timeoutMs, Math.max(SATURATED_MIN_DELAY_MS, silentFor(slot, Date.now())));
    return base + Math.floor(Math.random() * Math.min(base, 1000));
  };

  const slotsOf = (d: ClaimedDelivery): string[] => {
    const host = `h:${hostOf(d.url)}`;
    // A subscription endpoint has its own cap as well as its host's.
    return d.sub ? [host, `s:${d.sub}`] : [host];
  };

  /**
   * A slot of `slot` freed: starts the oldest deliveries waiting for it until
   * one takes the slot. Those that can no longer start within their lease go
   * back to Redis on the way, and those that need another busy host or
   * endpoint slot wait for that one; neither may keep the rest of the list
   * from the freed slot. One that now waits for *any* slot (the process is at
   * its global cap) takes the freed slot's turn, as one started would: moving
   * the rest would only overflow the global list back into Redis.
   */
  const pump = (slot: string): void => {
    const list = waiting.get(slot);
    // Bounded by the list's length now: run() may park a delivery again.
    for (let n = list?.length ?? 0; n > 0; n -= 1) {
      const next = list?.shift();
      if (!next) break;
      waitingCount -= 1;
      const outcome = run(next);
      if (outcome !== 'expired' && outcome !== 'waiting') break;
    }
    if (list && list.length === 0) waiting.delete(slot);
    if (!waiting.has(slot) && !perHost.has(slot)) {
      // Idle: nothing to remember (a host sent to again counts as answering
      // from its first attempt on), so the map holds only busy hosts.
      answeredAt.delete(slot);
    }
  };

  /**
   * Gives back, as soon as it can no longer start within its lease, what
   * waits here: a host whose attempts all hang must not hold its queue until
   * the leases run out (another process would then send those deliveries
   * while this one might still start them). One timer, set for the earliest
   * deadline of what waits.
   */
  let sweeper: NodeJS.Timeout | null = null;
  let sweepAt = Infinity;
  const sweepBy = (at: number): void => {
    if (stopping || at >= sweepAt) return;
    if (sweeper) clearTimeout(sweeper);
    sweepAt = at;
    sweeper = setTimeout(sweep, Math.max(0, at - Date.now()));
    sweeper.unref();
  };
  const sweep = (): void => {
    sweeper = null;
    sweepAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [slot, list] of waiting) {
      const kept: ClaimedDelivery[] = [];
      for (const w of list) {
        const by = startBy(w);
        if (by > now) {
          kept.push(w);
          next = Math.min(next, by);
        } else {
          release(w, 0);
          waitingCount -= 1;
        }
      }
      if (kept.length === 0) waiting.delete(slot);
      else waiting.set(slot, kept);
    }
    if (next < Infinity) sweepBy(next);
  };

  /**
   * Starts a delivery, or parks it here (`waiting` for a host or endpoint
   * slot, `waiting-any` for any slot), or gives it back to Redis (`released`:
   * saturated or stopping; `expired`: too late to start within its lease).
   */
  const run = (d: ClaimedDelivery): 'started' | 'waiting' | 'waiting-any' | 'released' | 'expired' => {
    if (stopping) {
      release(d, 0);
      return 'released';
    }
    // Too late to finish within the lease: another process may claim it meanwhile.
    if (Date.now() >= startBy(d)) {
      release(d, 0);
      return 'expired';
    }
    const slots = slotsOf(d);
    const full = inFlight >= opts.concurrency ? '*' : slots.find((k) => (perHost.get(k) ?? 0) >= capOf(k));
    if (full !== undefined) {
      const list = waiting.get(full) ?? [];
      if (list.length >= (full === '*' ? opts.concurrency : maxWaiting(full))) {
        // This receiver is saturated: the delivery waits in Redis, not here.
        release(d, full === '*' ? SATURATED_MIN_DELAY_MS + Math.floor(Math.random() * 300) : saturatedDelay(full));
        return 'released';
      }
      list.push(d);
      waiting.set(full, list);
      waitingCount += 1;
      sweepBy(startBy(d));
      return full === '*' ? 'waiting-any' : 'waiting';
    }
    inFlight += 1;
    const startedAt = Date.now();
    for (const k of slots) {
      perHost.set(k, (perHost.get(k) ?? 0) + 1);
      // A receiver sent to after a pause counts as answering until it proves quiet.
      if (!answeredAt.has(k)) answeredAt.set(k, startedAt);
    }
    let hostsFreed = false;
    const freeHosts = (answered = false): void => {
      if (hostsFreed) return;
      hostsFreed = true;
      const at = Date.now();
      for (const k of slots) {
        if (answered) answeredAt.set(k, at);
        const left = (perHost.get(k) ?? 1) - 1;
        if (left <= 0) perHost.delete(k);
        else perHost.set(k, left);
      }
      for (const k of slots) pump(k);
    };
    attempt(d, freeHosts)
      .catch((err: unknown) => {
        // Expected while stopping: the drain cut the attempt off (services.close destroys the agent).
        const log = stopping ? opts.logger.warn.bind(opts.logger) : opts.logger.error.bind(opts.logger);
        log('callback attempt could not be recorded; it will be retried when its lease expires', {
          delivery_id: d.id,
          err: coerceError(err).message,
        });
      })
      .finally(() => {
        inFlight -= 1;
        freeHosts();
        pump('*');
        if (inFlight === 0 && waitingCount === 0 && idle) idle();
      });
    return 'started';
  };

  const schedule = (ms: number): void => {
    if (stopping) return;
    timer = setTimeout(tick, ms);
    timer.unref();
  };

  const tick = (): void => {
    timer = null;
    if (stopping) return;
    // Only deliveries waiting for *any* slot use up global capacity; those
    // waiting for one busy receiver must not stop others from being claimed.
    const free = opts.concurrency - inFlight - (waiting.get('*')?.length ?? 0);
    if (free <= 0) return schedule(pollMs);
    const limit = Math.min(free, 200);
    opts.outbox
      .claim(limit, leaseMs)
      .then((claimed) => {
        let accepted = 0;
        for (const d of claimed) {
          const outcome = run(d);
          if (outcome !== 'released' && outcome !== 'expired') accepted += 1;
        }
        // Poll again at once only while what is claimed can be sent: claiming
        // a saturated receiver's backlog over and over would spin.
        schedule(claimed.length === limit && accepted * 2 >= claimed.length ? 0 : pollMs);
      })
      .catch((err: unknown) => {
        opts.logger.warn('could not claim due callbacks; retrying', { err: coerceError(err).message });
        schedule(Math.max(pollMs, 1000));
      });
  };

  return {
    leaseMs,
    start() {
      if (timer === null && !stopping) schedule(0);
    },
    deliverNow(d) {
      run(d);
    },
    async stop(graceMs) {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (sweeper) clearTimeout(sweeper);
      sweeper = null;
      sweepAt = Infinity;
      // What waits here goes back to Redis for another process.
      for (const list of waiting.values()) for (const w of list) release(w, 0);
      waiting.clear();
      waitingCount = 0;
      if (inFlight === 0) return;
      const finished = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), graceMs);
        idle = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      idle = null;
      // The owner of the agent cuts these off when it closes (services.close):
      // each delivery stays claimed, and another process sends it again once
      // its lease runs out.
      if (!finished) {
        opts.logger.warn('callback attempts still running after the shutdown grace; they will be cut off and sent again by another process when their leases run out', { in_flight: inFlight });
      }
    },
    inFlight: () => inFlight,
  };
}
