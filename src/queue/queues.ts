/**
 * bee-queue set-up. One queue per kind; the job id is the task id and the job
 * data is empty (the task record in Redis is the single source of truth).
 * Workers take jobs with their own consumer (consumer.ts); their bee-queue
 * Queue checks for stalled jobs and raises delayed ones.
 */
import { createRequire } from 'node:module';
import BeeQueue from 'bee-queue';
import type { QueueName } from '../config.js';
import type { Keys } from '../store/keys.js';

export type TaskJobData = Record<string, never>;
export type TaskQueue = BeeQueue<TaskJobData>;

export interface QueueOptions {
  redisUrl: string;
  keys: Keys;
  /** Workers watch for stalled and delayed jobs; producers (the API) only add and remove jobs. */
  role: 'producer' | 'worker';
  stallIntervalMs: number;
}

/** bee-queue's script loader (internal to it, so untyped). */
const beeLua = createRequire(import.meta.url)('bee-queue/lib/lua/index.js') as { buildCache(client: unknown): Promise<unknown> };

/** bee-queue's delayed-job raise (internal to it, so untyped); it reschedules itself. */
function activateDelayed(queue: TaskQueue): void {
  (queue as unknown as { _activateDelayed(): void })._activateDelayed();
}

/**
 * Once a queue is connected:
 * - its Lua scripts are loaded again on every reconnect. bee-queue loads them
 *   once, when a Queue connects, and from then on only sends EVALSHA; a Redis
 *   restart empties Redis's script cache, and its stalled-job check,
 *   delayed-job activation and job removal then fail with NOSCRIPT until the
 *   process restarts, so the jobs of a worker that crashed would stay `active`
 *   for good (the chaos test caught it);
 * - a worker raises due delayed jobs at start (bee-queue does it in
 *   `Queue#process`, which taskhook does not use) and again once the scripts
 *   are back after a reconnect: a raise queued while Redis was down is sent
 *   before 'ready' (node-redis flushes its offline queue first), fails with
 *   NOSCRIPT, and bee-queue then waits its whole `nearTermWindow` (20 min)
 *   before trying again, so retries and `delay_s` tasks due during a restart
 *   would start that late.
 */
function fixClient(queue: TaskQueue, worker: boolean): void {
  queue
    .ready()
    .then(() => {
      const { client } = queue as unknown as { client: { on(event: 'ready', cb: () => void): void } };
      if (worker) activateDelayed(queue);
      client.on('ready', () => {
        beeLua
          .buildCache(client)
          .then(() => {
            if (worker) activateDelayed(queue);
          })
          .catch((err: unknown) => queue.emit('error', err instanceof Error ? err : new Error(String(err))));
      });
    })
    .catch(() => undefined); // a queue that never connects reports that through its own 'error' events
}

export function createQueue(name: QueueName, opts: QueueOptions): TaskQueue {
  const worker = opts.role === 'worker';
  const queue = new BeeQueue<TaskJobData>(name, {
    prefix: opts.keys.bq,
    redis: { url: opts.redisUrl } as BeeQueue.QueueSettings['redis'],
    // No bee-queue consumer (and so no blocking connection): see consumer.ts.
    isWorker: false,
    // We never use bee-queue's pub/sub events: the task record says everything,
    // and publishing one message per job costs a Redis round trip.
    getEvents: false,
    sendEvents: false,
    storeJobs: false,
    // As finish.lua does when it acknowledges a job: the task record keeps the outcome.
    removeOnSuccess: true,
    removeOnFailure: true,
    // bee-queue only raises delayed jobs (delay_s, the task's own retries)
    // when some instance activates them; every worker does.
    activateDelayedJobs: worker,
    stallInterval: opts.stallIntervalMs,
    autoConnect: true,
  });
  fixClient(queue, worker);
  return queue;
}
