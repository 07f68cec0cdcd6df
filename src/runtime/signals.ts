/**
 * Two-stage shutdown: the first SIGTERM/SIGINT drains (the handler decides
 * how, and may name the exit code; 0 by default), a second one exits at once.
 * A drain that is still running after `deadlineMs` (something waiting on a
 * dependency that is gone) ends the process with exit code 1 and says so,
 * instead of leaving it half-stopped.
 */
import type { Logger } from '../logger.js';
import { coerceError } from '../errors.js';

/** The shell's code for a process ended by `signal` (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

export function onShutdownSignals(logger: Logger, drain: (signal: NodeJS.Signals) => Promise<number | void>, deadlineMs?: number): void {
  let draining = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (draining) {
      logger.warn(`second ${signal}: exiting now`);
      process.exit(signalExitCode(signal));
    }
    draining = true;
    logger.info(`${signal} received: draining (send it again to exit at once)`);
    if (deadlineMs !== undefined) {
      setTimeout(() => {
        logger.error(`shutdown did not finish within ${deadlineMs} ms; exiting`);
        process.exit(1);
      }, deadlineMs).unref();
    }
    drain(signal).then(
      (code) => process.exit(code ?? 0),
      (err: unknown) => {
        logger.error('shutdown failed', { err: coerceError(err).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
