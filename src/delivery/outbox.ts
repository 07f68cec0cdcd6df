/**
 * The durable outbox in Redis: claim what is due (with a lease), record each
 * attempt, give back what cannot be attempted now. Deliveries are created by
 * the task store's scripts, together with the state change that causes them.
 * Every claim has a token (the delivery's claim count): recording and giving
 * back act only for the current token, so a process that held a delivery
 * past its lease cannot overwrite what the next holder does.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { batchedScript, callScript, defineScript } from '../store/scripts.js';

export interface ClaimedDelivery {
  id: string;
  url: string;
  body: string;
  msgId: string;
  /** Attempts already made in this attempt sequence. */
  attempts: number;
  /** `default` or `sub:<id>`. */
  secret: string;
  event: string;
  taskId: string;
  /** Subscription id, or '' for a task callback. */
  sub: string;
  /** The task's traceparent, or ''. */
  trace: string;
  /**
   * This claim's token, for record() and release(): 0 for the claim a
   * delivery's creator holds (deliveries created already claimed, handed to
   * the dispatcher's deliverNow), the claim count for claim.lua's.
   */
  lease: number;
  /** When the claim runs out (epoch ms). */
  leaseUntil: number;
}

export interface AttemptRecord {
  n: number;
  at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed' | 'blocked';
  response_headers?: Record<string, string>;
  response_excerpt?: string;
}

export interface RecordOptions {
  /** A failing endpoint with no success for this long is disabled. */
  disableAfterMs: number;
  /** Coalesced progress events go out at most this often. */
  progressIntervalMs: number;
}

export interface Outbox {
  claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt made under claim `lease` (0: the creator's).
   * Returns the delivery's new state, `stale` when that claim is no longer
   * current (the attempt is only appended to the log) or `missing`.
   */
  record(id: string, attempt: AttemptRecord, nextAt: number | null, lease: number): Promise<string>;
  /** Gives back claim `lease` unattempted, due at `dueAt`; false when that claim is no longer current. */
  release(id: string, dueAt: number, lease: number): Promise<boolean>;
  /** Deliveries waiting in Redis (pending, in flight or leased). */
  backlog(): Promise<number>;
}

const FIELDS = 11;

export function createOutbox(redis: Redis, keys: Keys, opts: RecordOptions): Outbox {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'claim', 1);
  defineScript(redis, lua, 'record', 0);
  defineScript(redis, lua, 'release', 2);
  // The attempts of one event-loop turn are recorded in one script call (see record.lua).
  const recordBatched = batchedScript<string>(redis, 'record', () => [Date.now(), keys.deliveryPrefix, keys.webhookPrefix, opts.disableAfterMs, opts.progressIntervalMs]);
  return {
    async claim(limit, leaseMs) {
      const now = Date.now();
      const flat = await callScript<(string | number)[]>(redis, 'claim', [keys.due], [now, leaseMs, limit, keys.deliveryPrefix]);
      const out: ClaimedDelivery[] = [];
      for (let i = 0; i + FIELDS - 1 < flat.length; i += FIELDS) {
        out.push({
          id: flat[i] as string,
          url: flat[i + 1] as string,
          body: flat[i + 2] as string,
          msgId: flat[i + 3] as string,
          attempts: Number(flat[i + 4] ?? '0'),
          secret: flat[i + 5] as string,
          event: flat[i + 6] as string,
          taskId: flat[i + 7] as string,
          sub: (flat[i + 8] as string | undefined) ?? '',
          trace: (flat[i + 9] as string | undefined) ?? '',
          lease: Number(flat[i + 10]),
          leaseUntil: now + leaseMs,
        });
      }
      return out;
    },
    record: (id, attempt, nextAt, lease) =>
      recordBatched([id, JSON.stringify(attempt), attempt.n, attempt.outcome, nextAt ?? 0, attempt.status_code ?? 0, attempt.duration_ms, lease]),
    async release(id, dueAt, lease) {
      return (await callScript<number>(redis, 'release', [keys.delivery(id), keys.due], [id, dueAt, lease])) === 1;
    },
    backlog: () => redis.zcard(keys.due),
  };
}
