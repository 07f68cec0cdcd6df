/**
 * `taskhook worker`: the same process as `npm run worker` (src/runtime/run.ts). Once
 * started it owns the process: its signal handlers drain and exit.
 */
import { parseConfig, parseQueues } from '../config.js';
import { ConfigError, ValidationError } from '../errors.js';
import { ENV_NOTE } from './env-note.js';
import { EXIT_OK, parseFlags, usageError, type CliIo, type CommandResult } from './io.js';

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
  // Before anything connects: a wrong value is a usage error (exit 2) when it
  // came as a flag, a configuration error (exit 1) when from the environment.
  if (values.concurrency !== undefined) checkConcurrencyFlag(values.concurrency);
  checkQueues(values.queues, io.env.WORKER_QUEUES);
  // Loaded on demand: the task registry (sharp, media) is heavy and client commands never need it.
  const { runWorker } = await import('../runtime/run.js');
  await runWorker({ queues: values.queues, concurrency: values.concurrency }, io.env);
  return undefined;
}

/** Through the one config schema, which holds the allowed range. */
function checkConcurrencyFlag(raw: string): void {
  const issue = concurrencyIssue(raw);
  if (issue !== null) throw usageError(`--concurrency must be a whole number of jobs per queue, got "${raw}" (${issue})`);
}

function concurrencyIssue(raw: string): string | null {
  // An empty value would read as "unset" and quietly become the default.
  if (raw.trim() === '') return 'empty';
  try {
    parseConfig({ WORKER_CONCURRENCY: raw });
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.find((i) => i.field === 'WORKER_CONCURRENCY')?.message ?? err.message;
  }
}

/** The queues a worker would consume must all exist (the worker checks again; this says it without connecting to Redis). */
function checkQueues(flag: string | undefined, env: string | undefined): void {
  const raw = flag ?? env;
  if (raw === undefined || raw === '') return;
  const names = raw.split(',').map((q) => q.trim()).filter((q) => q.length > 0);
  let problem: string | null = names.length === 0 ? `names no queue ("${raw}")` : null;
  if (problem === null) {
    try {
      parseQueues(names);
      return;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problem = err.message;
    }
  }
  if (flag !== undefined) throw usageError(`--queues: ${problem}`);
  throw new ValidationError(`WORKER_QUEUES: ${problem}`, [{ field: 'WORKER_QUEUES', message: problem }]);
}
