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
import { coerceError } from '../errors.js';
import type { ClaimedDelivery } from './outbox.js';
import { createAttempt, type AttemptOptions, type Route } from './attempt.js';
import { SATURATED_MIN_DELAY_MS, createReceiverSlots } from './receiver-slots.js';

export type { Route };

/** What an attempt needs (src/delivery/attempt.ts), and the capacity around attempts. */
export interface DispatcherOptions extends AttemptOptions {
  /** In-flight attempts per subscription endpoint. @default hostConcurrency */
  endpointConcurrency?: number;
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

export function createDeliveryDispatcher(opts: DispatcherOptions): DeliveryDispatcher {
  const pollMs = opts.pollMs ?? 100;
  // Longer than any attempt can take, so only a dead process loses its lease.
  const leaseMs = opts.leaseMs ?? opts.timeoutMs + 5_000;
  const marginMs = opts.leaseMarginMs ?? 2_000;
  if (leaseMs - opts.timeoutMs <= marginMs) {
    throw new RangeError(`leaseMs (${leaseMs}) must exceed timeoutMs (${opts.timeoutMs}) + leaseMarginMs (${marginMs}): no attempt could start`);
  }
  const receivers = createReceiverSlots({
    hostConcurrency: opts.hostConcurrency,
    endpointConcurrency: opts.endpointConcurrency ?? opts.hostConcurrency,
    timeoutMs: opts.timeoutMs,
  });
  const attempt = createAttempt(opts);
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
   * Deliveries waiting here for a slot of a busy host/endpoint (or for any
   * slot), oldest first. Bounded: beyond it they wait in Redis instead, so a
   * hanging receiver cannot pile up work in this process.
   */
  const waiting = new Map<string, ClaimedDelivery[]>();
  let waitingCount = 0;

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
    // Idle: nothing to remember about this receiver.
    if (!waiting.has(slot) && !receivers.busy(slot)) receivers.forget(slot);
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
    const slots = receivers.of(d);
    const full = inFlight >= opts.concurrency ? '*' : receivers.full(slots);
    if (full !== undefined) {
      const list = waiting.get(full) ?? [];
      const now = Date.now();
      if (list.length >= (full === '*' ? opts.concurrency : receivers.maxWaiting(full, now))) {
        // This receiver is saturated: the delivery waits in Redis, not here.
        release(d, full === '*' ? SATURATED_MIN_DELAY_MS + Math.floor(Math.random() * 300) : receivers.saturatedDelay(full, now));
        return 'released';
      }
      list.push(d);
      waiting.set(full, list);
      waitingCount += 1;
      sweepBy(startBy(d));
      return full === '*' ? 'waiting-any' : 'waiting';
    }
    inFlight += 1;
    receivers.take(slots, Date.now());
    let hostsFreed = false;
    const freeHosts = (answered = false): void => {
      if (hostsFreed) return;
      hostsFreed = true;
      receivers.free(slots, answered, Date.now());
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
