/**
 * `npm run worker -- --queues video,image --concurrency 4`
 * Runs task consumers (and callback delivery) until SIGTERM/SIGINT.
 * Same as `taskhook worker`.
 */
import { parseArgs } from 'node:util';
import { runWorker } from '../runtime/run.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';
import { coerceError } from '../errors.js';

const USAGE = 'Usage: npm run worker -- [--queues video,image,audio,debug] [--concurrency N]\n'
  + 'Defaults come from WORKER_QUEUES and WORKER_CONCURRENCY.\n';

/** Wrong flags: what was wrong and the usage on stderr, exit 2 (as `taskhook worker` does). */
function usageError(thrown: unknown): never {
  process.stderr.write(`npm run worker: ${coerceError(thrown).message}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { queues?: string; concurrency?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        queues: { type: 'string' },
        concurrency: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    usageError(err);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  await runWorker({ queues: values.queues, concurrency: values.concurrency }, process.env);
}

loadDotEnv();
main().catch(fatal);
