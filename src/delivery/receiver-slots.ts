/**
 * The dispatcher's per-receiver bookkeeping: attempts in flight per host
 * (`h:<host>`) and per subscription endpoint (`s:<id>`), each against its
 * cap, and when each last answered. That answer clock decides how much may
 * wait in process for a busy receiver and how long its overflow waits in
 * Redis: a receiver that keeps answering drains its queue here, a silent
 * one must not pile work up in this process.
 */
import type { ClaimedDelivery } from './outbox.js';
import { urlMemo } from './url-cache.js';

/** Shortest wait in Redis for a delivery whose receiver (or this process) is saturated. */
export const SATURATED_MIN_DELAY_MS = 200;
/** A receiver that answered an attempt this recently (or started being sent to) is draining its queue here (see maxWaiting). */
const ANSWERING_MS = 1_000;
/** Deliveries that may wait here per slot of a receiver: a quiet one's, and an answering one's. */
const QUIET_QUEUE_PER_SLOT = 4;
const ANSWERING_QUEUE_PER_SLOT = 64;

const hosts = urlMemo((u) => u.host);
/** Host of a callback URL ('' when it does not parse), for the per-host cap. */
const hostOf = (url: string): string => hosts(url) ?? '';

export interface ReceiverSlotOptions {
  hostConcurrency: number;
  endpointConcurrency: number;
  /** The attempt deadline: the longest a saturated receiver's overflow waits in Redis. */
  timeoutMs: number;
}

export interface ReceiverSlots {
  /** The slots an attempt of `d` takes: its host's, and its endpoint's too for a subscription delivery. */
  of(d: ClaimedDelivery): string[];
  /** The first of `slots` at its cap, if any. */
  full(slots: readonly string[]): string | undefined;
  /** An attempt starts on `slots`. */
  take(slots: readonly string[], now: number): void;
  /** An attempt on `slots` is over; `answered`: the receiver answered it (any HTTP status). */
  free(slots: readonly string[], answered: boolean, now: number): void;
  /** Whether an attempt is in flight on `slot`. */
  busy(slot: string): boolean;
  /**
   * Forgets when `slot` last answered (call it once nothing is in flight or
   * waiting for it): a host sent to again counts as answering from its first
   * attempt on, and the clock holds only busy receivers.
   */
  forget(slot: string): void;
  /**
   * How many deliveries may wait here for `slot`. A receiver that keeps
   * answering is draining this queue, so it may run deep: released to Redis,
   * its deliveries would wait there behind every delivery due before them, a
   * hanging receiver's whole backlog included (a healthy receiver's callbacks
   * then came in up to ~20 s late in the bench's isolation phase). A receiver
   * that has gone quiet (no answer for ANSWERING_MS while sent to) keeps a
   * short queue here.
   */
  maxWaiting(slot: string, now: number): number;
  /**
   * How long a delivery that finds `slot` saturated waits in Redis: about as
   * long as the receiver has been silent (at least 200 ms, at most one
   * attempt deadline), so a busy receiver that keeps answering is retried
   * soon, and a hanging one's backlog is not claimed and released again every
   * few hundred milliseconds, which cost Redis two script calls per delivery per round.
   */
  saturatedDelay(slot: string, now: number): number;
}

export function createReceiverSlots(opts: ReceiverSlotOptions): ReceiverSlots {
  /** In-flight attempts per slot; a slot with none has no entry. */
  const inFlight = new Map<string, number>();
  /**
   * When each busy slot last answered an attempt, or, if it has not answered
   * since it was last idle, when it was first sent to.
   */
  const answeredAt = new Map<string, number>();
  const capOf = (slot: string): number => (slot.startsWith('s:') ? opts.endpointConcurrency : opts.hostConcurrency);
  /** How long `slot` has been silent (0 for one not sent to). */
  const silentFor = (slot: string, now: number): number => now - (answeredAt.get(slot) ?? now);

  return {
    of(d) {
      const host = `h:${hostOf(d.url)}`;
      return d.sub ? [host, `s:${d.sub}`] : [host];
    },
    full: (slots) => slots.find((k) => (inFlight.get(k) ?? 0) >= capOf(k)),
    take(slots, now) {
      for (const k of slots) {
        inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
        // A receiver sent to after a pause counts as answering until it proves quiet.
        if (!answeredAt.has(k)) answeredAt.set(k, now);
      }
    },
    free(slots, answered, now) {
      for (const k of slots) {
        if (answered) answeredAt.set(k, now);
        const left = (inFlight.get(k) ?? 1) - 1;
        if (left <= 0) inFlight.delete(k);
        else inFlight.set(k, left);
      }
    },
    busy: (slot) => inFlight.has(slot),
    forget(slot) {
      answeredAt.delete(slot);
    },
    maxWaiting: (slot, now) => capOf(slot) * (silentFor(slot, now) <= ANSWERING_MS ? ANSWERING_QUEUE_PER_SLOT : QUIET_QUEUE_PER_SLOT),
    saturatedDelay(slot, now) {
      const base = Math.min(opts.timeoutMs, Math.max(SATURATED_MIN_DELAY_MS, silentFor(slot, now)));
      return base + Math.floor(Math.random() * Math.min(base, 1000));
    },
  };
}
