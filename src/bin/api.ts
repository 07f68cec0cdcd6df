/** `npm run api`: the HTTP API alone. Workers run elsewhere (`npm run worker`). */
import { parseConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createServices } from '../runtime/services.js';
import { startApiProcess } from '../runtime/api-process.js';
import { onShutdownSignals } from '../runtime/signals.js';
import { fatal } from '../runtime/fatal.js';
import { loadDotEnv } from '../runtime/env.js';
import { registry } from '../../tasks/index.js';

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const logger = createLogger(config, 'taskhook-api');
  const services = await createServices(config, logger);
  const api = await startApiProcess(services, { registry, port: config.PORT, host: config.HOST });
  onShutdownSignals(logger, async () => {
    await api.close(config.SHUTDOWN_GRACE_MS);
    await services.close();
  });
}

loadDotEnv();
main().catch(fatal);
