/**
 * `taskhook all`: the same process as `npm start` (src/runtime/run.ts). Once
 * started it owns the process: its signal handlers drain and exit.
 */
import { ENV_NOTE } from './env-note.js';
import { EXIT_OK, parseFlags, type CliIo, type CommandResult } from './io.js';

export const ALL_HELP = `Usage: taskhook all

Runs the API and a worker in one process, for development (same as npm start).
Starts a private redis-server in ./data/redis when none answers at a local
REDIS_URL and redis-server is installed.

${ENV_NOTE}
`;

const helpOnly = { help: { type: 'boolean', short: 'h' } } as const;

export async function runAllCommand(argv: string[], io: CliIo): Promise<CommandResult> {
  if (parseFlags(argv, helpOnly).values.help) {
    io.stdout.write(ALL_HELP);
    return EXIT_OK;
  }
  // Loaded on demand: the task registry (sharp, media) is heavy and client commands never need it.
  const { runAll } = await import('../runtime/run.js');
  await runAll(io.env);
  return undefined;
}
