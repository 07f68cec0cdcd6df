/**
 * Takes a worker's jobs off one bee-queue queue, as many at a time as it has
 * free slots, and keeps the jobs it holds out of bee-queue's stall check.
 *
 * bee-queue's own consumer (`Queue#process`) asks for each free slot's job
 * with a BRPOPLPUSH of its own, then reads the job with an HGET, guards it
 * with an SREM and a timer, and acknowledges it with a MULTI: four round trips
 * per job before the task itself has been read or written. Here one script
 * (`take.lua`) takes every job that fits and starts their tasks; the outcome
 * script acknowledges the job (`finish.lua`), and `requeue.lua` puts back one
 * that must run again. The jobs stay bee-queue's in every other way: the same
 * keys and job JSON, bee-queue's stall check puts back the jobs of a worker
 * that died, and its delayed-job timer raises retries when they fall due.
 *
 * When nothing is waiting, one BRPOPLPUSH on a connection of the consumer's
 * own waits for the next job (as bee-queue's does) and hands it to the next
 * take. `stop()` unblocks that wait (CLIENT UNBLOCK), so a job it took at the
 * last moment is given back at once instead of waiting for the stall check.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { coerceError } from '../errors.js';
import type { TakenJob } from '../store/task-store.js';

export interface ConsumerOptions {
  /** bee-queue key prefix of the queue (`P:bq:{queue}:`). */
  prefix: string;
  /** Jobs held at once. */
  concurrency: number;
  /** Takes up to `max` waiting jobs after `moved` (a job the wait moved to `active`), and starts their tasks. */
  take(max: number, moved: string | null): Promise<TakenJob[]>;
  /** Gives back a job taken (`job`) or moved by the wait (`job` null) after `stop()`: it never runs here. */
  giveBack(id: string, job: TakenJob | null): Promise<unknown>;
  /** Runs one job; settles once the job has left this worker (acknowledged, put back, or left to the stall check). */
  run(job: TakenJob): Promise<unknown>;
  /** The shared client: the stall guard's SREMs and CLIENT UNBLOCK. */
  redis: Redis;
  /** A connection of the consumer's own for the blocking wait (blocked most of the time it is idle). */
  blocking: Redis;
  /** bee-queue's stallInterval: a held job is guarded at least twice per interval. */
  stallIntervalMs: number;
  logger: Logger;
  /** How long one blocking wait lasts before it is sent again (s). @default 5 */
  waitSeconds?: number;
}

export interface Consumer {
  start(): void;
  /**
   * Stops taking jobs and ends a wait in progress; bounded. Held jobs keep
   * running, and keep being guarded from the stall check until they settle.
   */
  stop(): Promise<void>;
  /** Jobs taken and not yet settled. */
  held(): number;
}

/** The first pause after Redis refused a take; it doubles up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;
/** How long stop() waits for an unblocked wait to answer. */
const STOP_WAIT_MS = 1_000;

export function createConsumer(opts: ConsumerOptions): Consumer {
  const held = new Set<string>();
  const waitSeconds = opts.waitSeconds ?? 5;
  let stopped = false;
  /** A take or a wait is in progress (only one at a time). */
  let filling: Promise<void> | null = null;
  /** Redis's id of the blocking connection, for CLIENT UNBLOCK; null until known. */
  let blockingId: number | null = null;
  let waiting = false;
  let retryMs = FIRST_RETRY_MS;

  const learnBlockingId = (): void => {
    opts.blocking.client('ID').then(
      (id) => (blockingId = Number(id)),
      () => (blockingId = null),
    );
  };
  opts.blocking.on('ready', learnBlockingId);

  // bee-queue's stall check puts back every job that stays in `stalling` for
  // a whole stallInterval: take out the ones held here twice per interval.
  // It keeps running after stop(): held jobs may run for the whole shutdown grace.
  const guard = setInterval(() => {
    if (held.size === 0) {
      if (stopped) clearInterval(guard);
      return;
    }
    opts.redis.srem(`${opts.prefix}stalling`, ...held).catch((err: unknown) => {
      opts.logger.warn('could not guard held jobs from the stall check', { err: coerceError(err).message });
    });
  }, Math.max(50, Math.floor(opts.stallIntervalMs / 2)));
  guard.unref();

  const launch = (job: TakenJob): void => {
    held.add(job.id);
    const settle = (): void => {
      held.delete(job.id);
      pump();
    };
    opts.run(job).then(settle, (err: unknown) => {
      opts.logger.error('job run failed; the stall check will put it back', { task_id: job.id, err: coerceError(err).message });
      settle();
    });
  };

  const giveBack = (id: string, job: TakenJob | null): Promise<unknown> =>
    opts.giveBack(id, job).catch((err: unknown) => {
      opts.logger.warn('could not give back a job; the stall check will', { task_id: id, err: coerceError(err).message });
    });

  /** The next job, moved to `active` by a blocking wait; null on a timeout or once stopped. */
  const wait = async (): Promise<string | null> => {
    waiting = true;
    try {
      return await opts.blocking.brpoplpush(`${opts.prefix}waiting`, `${opts.prefix}active`, waitSeconds);
    } finally {
      waiting = false;
    }
  };

  /** Takes until the slots are full or nothing waits; one at a time. */
  const fill = async (): Promise<void> => {
    let moved: string | null = null;
    let movedAt = 0;
    while (!stopped) {
      // A job the wait moved counts as one of the free slots' jobs.
      const free = opts.concurrency - held.size;
      if (free <= 0 && moved === null) return;
      let taken: TakenJob[];
      try {
        taken = await opts.take(Math.max(0, moved === null ? free : free - 1), moved);
        retryMs = FIRST_RETRY_MS;
      } catch (err) {
        opts.logger.warn('could not take jobs; retrying', { prefix: opts.prefix, err: coerceError(err).message, retry_ms: retryMs });
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
        // Unguarded since the wait moved it: past half a stall interval the
        // stall check may have put it back for another worker; it is theirs.
        if (moved !== null && Date.now() - movedAt > opts.stallIntervalMs / 2) moved = null;
        continue;
      }
      moved = null;
      if (stopped) {
        // Stopped while Redis answered: these never start here.
        await Promise.all(taken.map((job) => giveBack(job.id, job)));
        return;
      }
      for (const job of taken) launch(job);
      // Fewer than asked for: nothing else waits. Otherwise the slots are
      // full, and pump() runs again when one frees.
      if (taken.length >= free) return;
      try {
        moved = await wait();
        movedAt = Date.now();
      } catch (err) {
        if (stopped) break;
        opts.logger.warn('waiting for jobs failed; retrying', { prefix: opts.prefix, err: coerceError(err).message, retry_ms: retryMs });
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
    // Stopped with a job the wait took at the last moment: it goes back at once.
    if (moved !== null) await giveBack(moved, null);
  };

  const pump = (): void => {
    if (stopped || filling) return;
    filling = fill()
      .catch((err: unknown) => {
        opts.logger.error('job consumer failed', { prefix: opts.prefix, err: coerceError(err).message });
      })
      .finally(() => {
        filling = null;
        // A slot freed while the last take was answered: take again.
        if (held.size < opts.concurrency) pump();
      });
  };

  return {
    start() {
      learnBlockingId();
      pump();
    },
    async stop() {
      stopped = true;
      if (held.size === 0) clearInterval(guard);
      opts.blocking.off('ready', learnBlockingId);
      if (waiting && blockingId !== null) {
        // The wait answers nil (or the job it has just taken, which fill() gives back).
        await opts.redis.client('UNBLOCK', blockingId).catch(() => undefined);
      }
      const current = filling;
      if (current) await Promise.race([current, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    },
    held: () => held.size,
  };
}
