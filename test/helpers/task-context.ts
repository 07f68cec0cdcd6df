/**
 * A real TaskContext for handler tests: a real temp dir (removed by
 * `cleanup()`, as the worker does after every task), a real undici Agent for
 * loopback downloads, recorded progress calls and an AbortController to fire.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Agent, type Dispatcher } from 'undici';
import { TaskhookError } from '../../src/errors.js';
import type { Config } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import type { ProgressInfo, TaskContext } from '../../src/tasks/define.js';

export interface ProgressCall {
  percent: number;
  info?: ProgressInfo;
}

export interface TestTaskContext {
  ctx: TaskContext;
  /** Every reportProgress call, in order. */
  progress: ProgressCall[];
  /** Fires ctx.signal (default reason: an Error named AbortError). */
  abort(reason?: unknown): void;
  /** The temp dir's path once created, else null. */
  tempDirPath(): string | null;
  /** Removes the temp dir and closes the Agent (if this helper made it). */
  cleanup(): Promise<void>;
}

export interface TaskContextOverrides {
  taskId?: string;
  attempt?: number;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

export function makeTaskContext(config: Config, overrides: TaskContextOverrides = {}): TestTaskContext {
  const controller = new AbortController();
  const signal = overrides.signal ? AbortSignal.any([overrides.signal, controller.signal]) : controller.signal;
  const ownAgent = overrides.dispatcher ? null : new Agent({ connections: 4 });
  const dispatcher = overrides.dispatcher ?? (ownAgent as Agent);
  const progress: ProgressCall[] = [];
  let dir: string | null = null;
  let creating: Promise<string> | null = null;

  const ctx: TaskContext = {
    taskId: overrides.taskId ?? randomUUID(),
    attempt: overrides.attempt ?? 1,
    logger: silentLogger(),
    signal,
    config,
    dispatcher,
    reportProgress(percent, info) {
      progress.push(info === undefined ? { percent } : { percent, info });
    },
    tempDir() {
      creating ??= mkdtemp(path.join(config.MEDIA_TMP_DIR ?? os.tmpdir(), 'taskhook-test-')).then((d) => (dir = d));
      return creating;
    },
  };

  return {
    ctx,
    progress,
    abort(reason) {
      const err = new Error('aborted by test');
      err.name = 'AbortError';
      controller.abort(reason ?? err);
    },
    tempDirPath: () => dir,
    async cleanup() {
      if (creating) await creating.catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
      if (ownAgent) await ownAgent.close();
    },
  };
}

export interface TaskRun<R> {
  result: R;
  progress: ProgressCall[];
  taskId: string;
  /** The temp dir the task used (already removed), or null. */
  tempDir: string | null;
}

/**
 * Validates `data` with the task's schema (as the worker does), runs the
 * handler on a fresh context and always cleans up. Rejections carry the
 * handler's error unchanged.
 */
export async function runTask<R>(
  def: { input: { parse(data: unknown): unknown }; handler(input: never, ctx: TaskContext): Promise<R> },
  data: unknown,
  config: Config,
  setup: (c: TestTaskContext) => void = () => undefined,
): Promise<TaskRun<R>> {
  const c = makeTaskContext(config);
  setup(c);
  try {
    const input = def.input.parse(data);
    const result = await def.handler(input as never, c.ctx);
    return { result, progress: c.progress, taskId: c.ctx.taskId, tempDir: c.tempDirPath() };
  } finally {
    await c.cleanup();
  }
}

/** One entry of a media task's `result.files`. */
export interface FileOut {
  filename: string;
  filepath: string;
  size_bytes: number;
  content_type: string;
  download_url: string;
}

/** The stable code of the TaskhookError a task run rejected with (fails the test if it resolved). */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the task should have failed').to.be.instanceOf(TaskhookError);
  return (err as TaskhookError).code;
}
