import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { TaskhookError } from '../../src/errors.js';

/** Always throws `message` (with `code` as its error_type when given). */
export default defineTask({
  name: 'debug.fail',
  queue: 'debug',
  description: 'Throws task_data.message; task_data.code becomes the error_type.',
  input: z.object({
    message: z.string().max(10_000).default('debug.fail was asked to fail'),
    code: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/).optional(),
  }),
  timeoutMs: 10_000,
  async handler(input) {
    if (input.code) throw new TaskhookError(input.code, input.message);
    throw new Error(input.message);
  },
});
