import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';

/** Returns its input (after `delay_ms`): the probe used by tests, benchmarks and health checks. */
export default defineTask({
  name: 'debug.echo',
  queue: 'debug',
  description: 'Returns its task_data, after delay_ms if given.',
  input: z.looseObject({ delay_ms: z.number().int().min(0).max(600_000).optional() }),
  timeoutMs: 60_000,
  async handler(input, ctx) {
    if (input.delay_ms) await sleep(input.delay_ms, undefined, { signal: ctx.signal });
    return { ...input };
  },
});
