/**
 * `taskhook worker`: the same process as `npm run worker` (src/runtime/run.ts). Once
 * started it owns the process: its signal handlers drain and exit.
 */
import { ENV_NOTE } from './env-note.js';
import { EXIT_OK, parseFlags, type CliIo, type CommandResult } from './io.js';

export const WORKER_HELP = `Usage: taskhook worker [--queues video,image,audio,debug] [--concurrency N]

Runs task consumers and callback delivery (same as npm run worker).

Options:
  --queues LIST        queues to consume (env WORKER_QUEUES, default all)
  --concurrency N      jobs at once per queue (env WORKER_CONCURRENCY, default 4)
  -h, --help           this help

${ENV_NOTE}
`;

export async function runWorkerCommand(argv: string[], io: CliIo): Promise<CommandResult> {
  const { values } = parseFlags(argv, { queues: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(WORKER_HELP);
    return EXIT_OK;
  }
  // Loaded on demand: the task registry (sharp, media) is heavy and client commands never need it.
  const { runWorker } = await import('../runtime/run.js');
  await runWorker({ queues: values.queues, concurrency: values.concurrency }, io.env);
  return undefined;
}
