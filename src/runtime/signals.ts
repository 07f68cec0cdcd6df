/**
 * Two-stage shutdown: the first SIGTERM/SIGINT drains (the handler decides
 * how), a second one exits at once.
 */
import type { Logger } from '../logger.js';
import { coerceError } from '../errors.js';

export function onShutdownSignals(logger: Logger, drain: (signal: string) => Promise<void>): void {
  let draining = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn(`second ${signal}: exiting now`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    draining = true;
    logger.info(`${signal} received: draining (send it again to exit at once)`);
    drain(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err: coerceError(err).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
