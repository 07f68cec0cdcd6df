/**
 * `taskhook api`: the same process as `npm run api` (src/runtime/run.ts). Once
 * started it owns the process: its signal handlers drain and exit.
 */
import { ENV_NOTE } from './env-note.js';
import { EXIT_OK, parseFlags, type CliIo, type CommandResult } from './io.js';

export const API_HELP = `Usage: taskhook api

Runs the HTTP API alone (same as npm run api); workers run elsewhere.

${ENV_NOTE}
`;

const helpOnly = { help: { type: 'boolean', short: 'h' } } as const;

export async function runApiCommand(argv: string[], io: CliIo): Promise<CommandResult> {
  if (parseFlags(argv, helpOnly).values.help) {
    io.stdout.write(API_HELP);
    return EXIT_OK;
  }
  // Loaded on demand: the task registry (sharp, media) is heavy and client commands never need it.
  const { runApi } = await import('../runtime/run.js');
  await runApi(io.env);
  return undefined;
}
