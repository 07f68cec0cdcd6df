/**
 * `taskhook submit <task_type> --data '{…}' [--wait]`: POSTs one task. Without
 * `--wait` stdout is just the task id (scripts capture it); with `--wait` it
 * polls the task, shows progress on stderr and prints the result (or error)
 * as JSON on stdout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { apiRequest, ApiProblemError, type ApiResponse } from './client.js';
import { EXIT_FAILED, EXIT_OK, clientSettings, jsonObjectFlag, parseFlags, usageError, type CliIo, type ClientSettings } from './io.js';

export const SUBMIT_HELP = `Usage: taskhook submit <task_type> [options]

Submits a task (POST /api/v1/tasks) and prints its id on stdout.

Options:
  --data JSON          task_data, a JSON object (default {})
  --callback URL       callback_url: where the signed result is POSTed
  --metadata JSON      metadata, a JSON object returned untouched
  --project ID         project_id
  --wait               wait for the task to end: progress on stderr, then the
                       result (or error) as JSON on stdout; exit 0 when it
                       completed, 1 when it failed or was cancelled
  --interval MS        poll interval with --wait (default 250)
  --url URL            API base URL (env TASKHOOK_URL, default http://localhost:3000)
  --key KEY            API key (env TASKHOOK_API_KEY, else the first of API_KEYS, else dev-key)
  -h, --help           this help

Exit codes: 0 ok, 1 failed (API error, failed task), 2 wrong usage.
Example:
  id=$(taskhook submit debug.sleep --data '{"ms":500}')
  taskhook submit debug.echo --data '{"hello":"world"}' --wait | jq .
`;

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** Answers worth waiting out while polling (an API restart, a rate limit). */
const TRANSIENT = new Set([429, 502, 503, 504]);

export async function runSubmit(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      data: { type: 'string' },
      callback: { type: 'string' },
      metadata: { type: 'string' },
      project: { type: 'string' },
      wait: { type: 'boolean' },
      interval: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    io.stdout.write(SUBMIT_HELP);
    return EXIT_OK;
  }
  const [taskType, ...extra] = positionals;
  if (taskType === undefined) throw usageError('missing <task_type> (e.g. debug.echo)');
  if (extra.length > 0) throw usageError(`unexpected argument(s): ${extra.join(' ')}`);
  const intervalMs = values.interval === undefined ? 250 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 10 || intervalMs > 60_000) {
    throw usageError(`--interval must be whole milliseconds from 10 to 60000, got "${values.interval}"`);
  }
  const body: Record<string, unknown> = {
    task_type: taskType,
    task_data: values.data === undefined ? {} : jsonObjectFlag('data', values.data),
  };
  if (values.callback !== undefined) body.callback_url = values.callback;
  if (values.metadata !== undefined) body.metadata = jsonObjectFlag('metadata', values.metadata);
  if (values.project !== undefined) body.project_id = values.project;

  const settings = clientSettings(io.env, values);
  const res = await apiRequest(settings, 'POST', '/api/v1/tasks', body);
  if (res.status !== 202 || typeof res.json.task_id !== 'string') throw new ApiProblemError(res);
  const taskId = res.json.task_id;
  if (!values.wait) {
    io.stdout.write(`${taskId}\n`);
    return EXIT_OK;
  }
  io.stderr.write(`task ${taskId} queued\n`);
  const task = await waitForTask(settings, taskId, intervalMs, io);
  const status = String(task.status);
  const outcome = status === 'completed' ? task.result : (task.error ?? { status });
  io.stdout.write(`${JSON.stringify(outcome ?? null, null, 2)}\n`);
  return status === 'completed' ? EXIT_OK : EXIT_FAILED;
}

/** Polls until the task ends; draws progress on stderr. Returns the final task view. */
async function waitForTask(settings: ClientSettings, taskId: string, intervalMs: number, io: CliIo): Promise<Record<string, unknown>> {
  const progress = progressReporter(io);
  for (;;) {
    const res: ApiResponse = await apiRequest(settings, 'GET', `/api/v1/tasks/${encodeURIComponent(taskId)}`);
    if (res.status === 200) {
      const status = String(res.json.status);
      progress.update(status, Number(res.json.progress ?? 0));
      if (TERMINAL.has(status)) {
        progress.done(res.json);
        return res.json;
      }
    } else if (!TRANSIENT.has(res.status)) {
      progress.done(null);
      throw new ApiProblemError(res);
    }
    await sleep(intervalMs);
  }
}

interface ProgressReporter {
  update(status: string, percent: number): void;
  done(task: Record<string, unknown> | null): void;
}

const BAR_WIDTH = 30;

/** A redrawn bar when stderr is a terminal; otherwise one plain line per change. */
function progressReporter(io: CliIo): ProgressReporter {
  const tty = io.stderr.isTTY === true;
  let last = '';
  return {
    update(status, percent) {
      const p = Math.max(0, Math.min(100, Number.isFinite(percent) ? Math.round(percent) : 0));
      // A percentage means nothing once a task failed or was cancelled.
      const line = status === 'failed' || status === 'cancelled' ? status : `${status} ${p}%`;
      if (line === last) return;
      last = line;
      if (tty) {
        const filled = Math.round((p / 100) * BAR_WIDTH);
        io.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(p).padStart(3)}% ${status}`);
      } else {
        io.stderr.write(`${line}\n`);
      }
    },
    done(task) {
      if (tty && last !== '') io.stderr.write('\n');
      if (task === null) return;
      const secs = typeof task.processing_time === 'number' ? ` in ${task.processing_time.toFixed(3)} s` : '';
      const err = task.error as { message?: unknown; error_type?: unknown } | undefined;
      const why = err ? `: ${String(err.message ?? '')} (${String(err.error_type ?? 'error')})` : '';
      io.stderr.write(`task ${String(task.task_id)} ${String(task.status)}${secs}${why}\n`);
    },
  };
}
