/** Reads `.env` from the working directory when there is one (Node >= 20.12). */
import { existsSync } from 'node:fs';

export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
