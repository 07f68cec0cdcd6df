/** Start-up failures: one clear message, no stack for errors we expect, exit 1. */
import { TaskhookError, coerceError } from '../errors.js';

export function fatal(thrown: unknown): never {
  const err = coerceError(thrown);
  if (err instanceof TaskhookError) {
    process.stderr.write(`taskhook: ${err.message}\n`);
  } else {
    process.stderr.write(`taskhook: unexpected error at start-up: ${err.stack ?? err.message}\n`);
  }
  process.exit(1);
}
