/**
 * `npm run worker -- --queues video,image --concurrency 4`
 * Runs task consumers (and callback delivery) until SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { parseConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createServices } from '../runtime/services.js';
import { startWorkerProcess } from '../runtime/worker-process.js';
import { onShutdownSignals } from '../runtime/signals.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';
import { registry } from '../../tasks/index.js';

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
  const env = { ...process.env };
  if (values.queues !== undefined) env.WORKER_QUEUES = values.queues;
  if (values.concurrency !== undefined) env.WORKER_CONCURRENCY = values.concurrency;
  const config = parseConfig(env);
  const logger = createLogger(config, 'taskhook-worker');
  const services = await createServices(config, logger);
  const running = await startWorkerProcess(services, {
    queues: config.WORKER_QUEUES,
    concurrency: config.WORKER_CONCURRENCY,
    registry,
    deliver: config.WORKER_DELIVERS_CALLBACKS,
  });
  onShutdownSignals(logger, async () => {
    await running.close(config.SHUTDOWN_GRACE_MS);
    await services.close();
  });
}

loadDotEnv();
main().catch(fatal);
