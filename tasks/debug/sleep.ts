import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';

/** Waits `ms`, reporting progress, and stops as soon as the abort signal fires. */
export default defineTask({
  name: 'debug.sleep',
  queue: 'debug',
  description: 'Waits ms milliseconds (honours timeout and shutdown).',
  input: z.object({ ms: z.number().int().min(0).max(3_600_000) }),
  timeoutMs: 3_600_000,
  async handler(input, ctx) {
    const started = Date.now();
    const step = Math.max(50, Math.min(1000, Math.floor(input.ms / 10)));
    while (Date.now() - started < input.ms) {
      await sleep(Math.min(step, input.ms - (Date.now() - started)), undefined, { signal: ctx.signal });
      ctx.reportProgress(Math.min(100, Math.round(((Date.now() - started) / Math.max(1, input.ms)) * 100)));
    }
    return { slept_ms: Date.now() - started };
  },
});
