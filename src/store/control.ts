/**
 * Task control from the API: cancel and retry. Both are one Lua script on the
 * task record; outcomes still go through the task store's finish script, so a
 * cancel racing a worker can never produce two outcomes.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { callScript, defineScript } from './scripts.js';

export type CancelVerdict = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'missing';

export interface TaskControl {
  /** Flags the task; a running task's worker is told over pub/sub. Returns the status it had. */
  requestCancel(taskId: string): Promise<CancelVerdict>;
  /** Starts a new generation of a failed/cancelled task; returns it, or the blocking status. */
  prepareRetry(taskId: string): Promise<{ gen: number } | { status: string }>;
}

export function createTaskControl(redis: Redis, keys: Keys): TaskControl {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'cancel', 1);
  defineScript(redis, lua, 'retry', 1);
  return {
    requestCancel(taskId) {
      return callScript<CancelVerdict>(redis, 'cancel', [keys.task(taskId)], [keys.cancelChannel, taskId]);
    },
    async prepareRetry(taskId) {
      const r = await callScript<string>(redis, 'retry', [keys.task(taskId)], []);
      return /^\d+$/.test(r) ? { gen: Number(r) } : { status: r };
    },
  };
}
