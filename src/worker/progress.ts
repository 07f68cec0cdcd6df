/**
 * Throttles a task's progress writes to one per 250 ms (the latest value
 * wins) so a chatty handler costs Redis almost nothing.
 */
import { coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';
import type { ProgressInfo } from '../tasks/define.js';

const INTERVAL_MS = 250;

export interface ProgressWriter {
  report(percent: number, info?: ProgressInfo): void;
  /** Writes the pending value now (before the outcome is written). */
  flush(): Promise<void>;
}

/** `onWrite` sees every value that is written (e.g. to emit `task.progress` events). */
export function createProgressWriter(store: TaskStore, taskId: string, log: Logger, onWrite?: (percent: number) => void): ProgressWriter {
  let last = -1;
  let lastAt = 0;
  let pending: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  const write = (p: number): void => {
    last = p;
    lastAt = Date.now();
    writing = store.setProgress(taskId, p).catch((err: unknown) => {
      log.debug('progress write failed', { err: coerceError(err).message });
    });
    onWrite?.(p);
  };

  return {
    report(percent) {
      if (percent === last || percent === pending) return;
      const wait = INTERVAL_MS - (Date.now() - lastAt);
      if (wait <= 0 && timer === null) return write(percent);
      pending = percent;
      timer ??= setTimeout(() => {
        timer = null;
        if (pending !== null) write(pending);
        pending = null;
      }, Math.max(0, wait));
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = null;
      if (pending !== null) write(pending);
      pending = null;
      await writing;
    },
  };
}
