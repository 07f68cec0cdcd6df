/** Listening on a configured port, with a start-up error a person can act on when it cannot. */
import type { Server } from 'node:http';
import { TaskhookError, coerceError } from '../errors.js';

/** Which setting chose the port: the message names it. */
export type PortSetting = 'PORT' | 'METRICS_PORT';

export async function listen(server: Server, port: number, host: string, setting: PortSetting): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw listenError(coerceError(err), port, host, setting);
  }
}

/** EADDRINUSE and friends are expected at start-up: one line that names the setting, no stack. */
function listenError(err: Error, port: number, host: string, setting: PortSetting): Error {
  const where = `${setting}=${port} (HOST=${host})`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new TaskhookError('port_in_use', `Cannot listen on ${where}: something else (another taskhook?) already listens there. Stop it or set ${setting} to a free port.`, { cause: err });
    case 'EACCES':
      return new TaskhookError('port_not_allowed', `Cannot listen on ${where}: not allowed (ports below 1024 need privileges). Set ${setting} to a port above 1023.`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new TaskhookError('host_not_local', `Cannot listen on ${where}: HOST is not an address of this machine. Set HOST to one of its addresses, or 0.0.0.0.`, { cause: err });
    default:
      return err;
  }
}
