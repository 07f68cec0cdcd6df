/**
 * `taskhook <command>`: dispatches to one module per command. `main` has no
 * side effects until called; bin/taskhook.js calls it with process.argv and
 * exits with the code it returns (or leaves a daemon running).
 */
import { loadDotEnv } from '../runtime/env.js';
import { VERSION } from '../version.js';
import { runApiCommand } from './api.js';
import { runWorkerCommand } from './worker.js';
import { runAllCommand } from './all.js';
import { runSubmit } from './submit.js';
import { runListen } from './listen.js';
import { runTop } from './top.js';
import { EXIT_OK, EXIT_USAGE, reportError, type CliIo, type Command, type CommandResult } from './io.js';

export const MAIN_HELP = `Usage: taskhook <command> [options]

Servers (configured by the environment and ./.env, like npm start):
  api                  the HTTP API alone (npm run api)
  worker               task consumers and callback delivery (npm run worker)
  all                  API and worker in one process (npm start)

Client and tools:
  submit <task_type>   submit a task; --wait to follow it to the end
  listen               a local callback receiver that prints and verifies each event
  top                  live view of queues, workers and callbacks (Redis)

Run "taskhook <command> --help" for a command's options.
Client commands use TASKHOOK_URL (default http://localhost:3000) and
TASKHOOK_API_KEY (default: the first of API_KEYS, else dev-key).
`;

export const COMMANDS: Readonly<Record<string, Command>> = {
  api: runApiCommand,
  worker: runWorkerCommand,
  all: runAllCommand,
  submit: runSubmit,
  listen: runListen,
  top: runTop,
};

/** The binary's I/O: process streams, process.env, and SIGINT/SIGTERM as the stop request. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    interrupted: () =>
      new Promise((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
  };
}

/**
 * Runs one command line (without `node` and the script). Returns the exit
 * code, or `undefined` when a server was started and now owns the process.
 * Without `io`, reads ./.env into process.env first (as the npm scripts do).
 */
export async function main(argv: string[], io?: CliIo): Promise<CommandResult> {
  if (io === undefined) loadDotEnv();
  const cli = io ?? processIo();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic !== undefined && COMMANDS[topic] !== undefined) return main([topic, '--help'], cli);
    (name === undefined ? cli.stderr : cli.stdout).write(MAIN_HELP);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    cli.stdout.write(`taskhook ${VERSION}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    cli.stderr.write(`taskhook: unknown command "${name}"\n\n${MAIN_HELP}`);
    return EXIT_USAGE;
  }
  try {
    return await command(rest, cli);
  } catch (err) {
    return reportError(err, cli, name);
  }
}
