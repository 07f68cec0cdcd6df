/**
 * `npm run worker -- --queues video,image --concurrency 4`
 * Runs task consumers (and callback delivery) until SIGTERM/SIGINT.
 * Same as `taskhook worker`.
 */
import { parseArgs } from 'node:util';
import { runWorker } from '../runtime/run.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('Usage: npm run worker -- [--queues video,image,audio,debug] [--concurrency N]\n'
      + 'Defaults come from WORKER_QUEUES and WORKER_CONCURRENCY.');
    return;
  }
  await runWorker({ queues: values.queues, concurrency: values.concurrency }, process.env);
}

loadDotEnv();
main().catch(fatal);
