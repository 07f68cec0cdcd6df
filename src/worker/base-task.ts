/**
 * The base task: runs one handler with its deadline, an AbortSignal that fires
 * on timeout or shutdown, throttled progress and a private temp dir that is
 * always removed. It decides nothing about retries or callbacks: it only says
 * how the run ended.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import { TaskTimeoutError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
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
  /** Fires when the worker gives up waiting for running tasks at shutdown. */
  shutdown: AbortSignal;
  /** Fires when a client cancels the task. */
  cancel?: AbortSignal;
  onProgress(percent: number, info?: ProgressInfo): void;
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
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TaskTimeoutError(opts.timeoutMs)), opts.timeoutMs);
  const onShutdown = (): void => controller.abort(new ShutdownAbort());
  if (opts.shutdown.aborted) onShutdown();
  else opts.shutdown.addEventListener('abort', onShutdown, { once: true });
  const onCancel = (): void => controller.abort(new CancelAbort());
  if (opts.cancel?.aborted) onCancel();
  else opts.cancel?.addEventListener('abort', onCancel, { once: true });

  let tempDir: Promise<string> | null = null;
  const ctx: TaskContext = {
    taskId: opts.taskId,
    attempt: opts.attempt,
    logger: opts.logger,
    signal: controller.signal,
    config: opts.config,
    dispatcher: opts.dispatcher,
    reportProgress: (percent, info) => {
      if (!Number.isFinite(percent)) return;
      opts.onProgress(Math.max(0, Math.min(100, Math.round(percent))), info);
    },
    tempDir: () => {
      tempDir ??= mkdtemp(join(opts.config.MEDIA_TMP_DIR ?? tmpdir(), `taskhook-${opts.taskId}-`));
      return tempDir;
    },
  };

  // The abort race: a handler that ignores its signal still ends the run on time.
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    controller.signal.addEventListener('abort', onAbort, { once: true });
  });
  const handling = Promise.resolve().then(() => opts.def.handler(opts.input, ctx));
  handling.catch(() => undefined); // settled below; never unhandled

  try {
    const first = await Promise.race([handling.then((r) => ({ r })), aborted]);
    if (first !== 'aborted') return { kind: 'success', result: asResult(first.r) };
    throw controller.signal.reason;
  } catch (thrown) {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : thrown;
    if (controller.signal.aborted) {
      // Give the handler a moment to stop its children before its temp dir goes.
      await Promise.race([handling.catch(() => undefined), new Promise((r) => setTimeout(r, SETTLE_AFTER_ABORT_MS).unref())]);
    }
    if (reason instanceof ShutdownAbort) return { kind: 'shutdown' };
    if (reason instanceof CancelAbort) return { kind: 'cancelled' };
    if (reason instanceof TaskTimeoutError) return { kind: 'timeout', error: reason };
    return { kind: 'error', error: coerceError(reason) };
  } finally {
    clearTimeout(timer);
    opts.shutdown.removeEventListener('abort', onShutdown);
    opts.cancel?.removeEventListener('abort', onCancel);
    if (onAbort) controller.signal.removeEventListener('abort', onAbort);
    if (tempDir) {
      const dir = await (tempDir as Promise<string>).catch(() => null);
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
