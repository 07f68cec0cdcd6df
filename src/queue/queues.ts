/**
 * bee-queue set-up. One queue per kind; the job id is the task id and the job
 * data is empty (the task record in Redis is the single source of truth).
 */
import BeeQueue from 'bee-queue';
import type { QueueName } from '../config.js';
import type { Keys } from '../store/keys.js';

export type TaskJobData = Record<string, never>;
export type TaskQueue = BeeQueue<TaskJobData>;

export interface QueueOptions {
  redisUrl: string;
  keys: Keys;
  /** Workers consume; producers (the API) only add jobs. */
  role: 'producer' | 'worker';
  stallIntervalMs: number;
}

export function createQueue(name: QueueName, opts: QueueOptions): TaskQueue {
  const worker = opts.role === 'worker';
  return new BeeQueue<TaskJobData>(name, {
    prefix: opts.keys.bq,
    redis: { url: opts.redisUrl } as BeeQueue.QueueSettings['redis'],
    isWorker: worker,
    // We never use bee-queue's pub/sub events: the task record says everything,
    // and publishing one message per job costs a Redis round trip.
    getEvents: false,
    sendEvents: false,
    storeJobs: false,
    // Finished jobs are dropped at once: the task record keeps the outcome.
    removeOnSuccess: true,
    removeOnFailure: true,
    // bee-queue only fires delayed jobs and backoff retries when some instance
    // activates them; every worker does.
    activateDelayedJobs: worker,
    stallInterval: opts.stallIntervalMs,
    autoConnect: true,
  });
}
