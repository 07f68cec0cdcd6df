/**
 * The base task: runs one handler with its deadline, an AbortSignal that fires
 * on timeout, cancel or shutdown, throttled progress and a private temp dir
 * that is always removed. It decides nothing about retries or callbacks: it
 * only says how the run ended.
 */
import { rm } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import { TaskTimeoutError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createTaskTempDir } from '../media/temp-dir.js';
import type { AnyTaskDefinition, ProgressInfo, TaskContext, TaskResult } from '../tasks/define.js';

export type RunOutcome =
  | { kind: 'success'; result: TaskResult }
  | { kind: 'error'; error: Error }
  | { kind: 'timeout'; error: TaskTimeoutError }
  | { kind: 'shutdown' }
  | { kind: 'cancelled' };

export interface RunOptions {
  def: AnyTaskDefinition;
  input: unknown;
  taskId: string;
  attempt: number;
  timeoutMs: number;
  logger: Logger;
  config: Config;
  dispatcher: Dispatcher;
  /** Thrown when a client cancels the task or the worker gives up waiting at shutdown. */
  stop: StopSwitch;
  onProgress(percent: number, info?: ProgressInfo): void;
}

export type StopReason = 'cancel' | 'shutdown';

/**
 * Tells one task to stop early. A plain object rather than AbortSignals: an
 * AbortController per job plus listeners on a shared shutdown signal was ~2%
 * of a busy worker's CPU, for tasks that nearly never stop early. The
 * handler's own AbortSignal is made only when it reads `ctx.signal`.
 */
export class StopSwitch {
  reason: StopReason | null = null;
  #listener: ((reason: StopReason) => void) | null = null;

  stop(reason: StopReason): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.#listener?.(reason);
  }

  /** The one listener (the run); called at once when the switch was thrown before. */
  listen(fn: ((reason: StopReason) => void) | null): void {
    this.#listener = fn;
    if (fn && this.reason !== null) fn(this.reason);
  }
}

/** How long a handler gets to clean up (kill children, close files) after its signal fires. */
const SETTLE_AFTER_ABORT_MS = 2000;

class ShutdownAbort extends Error {
  constructor() {
    super('worker shutting down');
  }
}

class CancelAbort extends Error {
  constructor() {
    super('task cancelled');
  }
}

function asResult(value: unknown): TaskResult {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as TaskResult;
  return value === undefined ? {} : { value };
}

export async function runTask(opts: RunOptions): Promise<RunOutcome> {
  /** Why the run was cut short (timeout, cancel, shutdown); null while it may go on. */
  let reason: Error | null = null;
  let controller: AbortController | null = null;
  let wake: (() => void) | null = null;
  const abort = (why: Error): void => {
    if (reason) return;
    reason = why;
    controller?.abort(why);
    wake?.();
  };
  const timer = setTimeout(() => abort(new TaskTimeoutError(opts.timeoutMs)), opts.timeoutMs);
  opts.stop.listen((r) => abort(r === 'shutdown' ? new ShutdownAbort() : new CancelAbort()));

  let tempDir: Promise<string> | null = null;
  const ctx: TaskContext = {
    taskId: opts.taskId,
    attempt: opts.attempt,
    logger: opts.logger,
    get signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (reason) controller.abort(reason);
      }
      return controller.signal;
    },
    config: opts.config,
    dispatcher: opts.dispatcher,
    reportProgress: (percent, info) => {
      if (!Number.isFinite(percent)) return;
      opts.onProgress(Math.max(0, Math.min(100, Math.round(percent))), info);
    },
    tempDir: () => {
      tempDir ??= createTaskTempDir(opts.config, opts.taskId);
      return tempDir;
    },
  };

  // The abort race: a handler that ignores its signal still ends the run on time.
  const aborted = new Promise<'aborted'>((resolve) => {
    wake = () => resolve('aborted');
    if (reason) resolve('aborted');
  });
  // A run stopped before it began (cancelled or handed back at shutdown while
  // starting) never calls the handler: its side effects would be wasted.
  const handling = Promise.resolve().then(() => (reason ? Promise.reject(reason) : opts.def.handler(opts.input, ctx)));
  handling.catch(() => undefined); // settled below; never unhandled

  try {
    const first = await Promise.race([handling.then((r) => ({ r })), aborted]);
    if (first !== 'aborted') return { kind: 'success', result: asResult(first.r) };
    throw reason;
  } catch (thrown) {
    const cause: unknown = reason ?? thrown;
    if (reason) {
      // Give the handler a moment to stop its children before its temp dir goes.
      await Promise.race([handling.catch(() => undefined), new Promise((r) => setTimeout(r, SETTLE_AFTER_ABORT_MS).unref())]);
    }
    if (cause instanceof ShutdownAbort) return { kind: 'shutdown' };
    if (cause instanceof CancelAbort) return { kind: 'cancelled' };
    if (cause instanceof TaskTimeoutError) return { kind: 'timeout', error: cause };
    return { kind: 'error', error: coerceError(cause) };
  } finally {
    clearTimeout(timer);
    opts.stop.listen(null);
    if (tempDir) {
      const dir = await (tempDir as Promise<string>).catch(() => null);
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
