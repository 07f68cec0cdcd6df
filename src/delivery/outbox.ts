/**
 * The durable outbox in Redis: claim what is due (with a lease), record each
 * attempt, give back what cannot be attempted now. Deliveries are created by
 * the task store's finish script, together with the task's outcome.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { callScript, defineScript } from '../store/scripts.js';

export interface ClaimedDelivery {
  id: string;
  url: string;
  body: string;
  msgId: string;
  /** Attempts already made. */
  attempts: number;
  secret: string;
  event: string;
  taskId: string;
}

export interface AttemptRecord {
  n: number;
  at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed' | 'blocked';
}

export interface Outbox {
  claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  record(id: string, attempt: AttemptRecord, nextAt: number | null): Promise<string>;
  release(id: string, dueAt: number): Promise<void>;
  /** Deliveries waiting in Redis (pending, in flight or leased). */
  backlog(): Promise<number>;
}

export function createOutbox(redis: Redis, keys: Keys): Outbox {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'claim', 1);
  defineScript(redis, lua, 'record', 3);
  defineScript(redis, lua, 'release', 2);
  const dlvPrefix = keys.delivery('');
  return {
    async claim(limit, leaseMs) {
      const flat = await callScript<string[]>(redis, 'claim', [keys.due], [Date.now(), leaseMs, limit, dlvPrefix]);
      const out: ClaimedDelivery[] = [];
      for (let i = 0; i + 7 < flat.length; i += 8) {
        out.push({
          id: flat[i] as string,
          url: flat[i + 1] as string,
          body: flat[i + 2] as string,
          msgId: flat[i + 3] as string,
          attempts: Number(flat[i + 4] ?? '0'),
          secret: flat[i + 5] as string,
          event: flat[i + 6] as string,
          taskId: flat[i + 7] as string,
        });
      }
      return out;
    },
    record(id, attempt, nextAt) {
      return callScript<string>(
        redis,
        'record',
        [keys.delivery(id), keys.attempts(id), keys.due],
        [id, JSON.stringify(attempt), attempt.n, attempt.outcome, nextAt ?? 0, Date.now()],
      );
    },
    async release(id, dueAt) {
      await callScript<number>(redis, 'release', [keys.delivery(id), keys.due], [id, dueAt]);
    },
    backlog: () => redis.zcard(keys.due),
  };
}
