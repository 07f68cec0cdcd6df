/**
 * Task control from the API: cancel (one Lua script on the task record; the
 * outcome still goes through the task store's finish script, so a cancel
 * racing a worker can never produce two outcomes). Retry lives in the
 * producer, which owns the job it adds.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { callScript, defineScript } from './scripts.js';

export type CancelVerdict = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'missing';

export interface TaskControl {
  /** Flags the task; a running task's worker is told over pub/sub. Returns the status it had. */
  requestCancel(taskId: string): Promise<CancelVerdict>;
}

export function createTaskControl(redis: Redis, keys: Keys): TaskControl {
  const lua = new URL('./lua/', import.meta.url);
  defineScript(redis, lua, 'cancel', 1);
  return {
    requestCancel(taskId) {
      return callScript<CancelVerdict>(redis, 'cancel', [keys.task(taskId)], [keys.cancelChannel, taskId]);
    },
  };
}
