/**
 * A task is a plain definition: name, queue, zod input schema, timeout and
 * handler. The worker's base task wraps every handler with the timeout, the
 * abort signal, progress reporting and the outcome hooks.
 */
import type { z } from 'zod';
import type { Dispatcher } from 'undici';
import type { Config, QueueName } from '../config.js';
import { QUEUE_NAMES } from '../config.js';
import type { Logger } from '../logger.js';

export interface ProgressInfo {
  [key: string]: string | number | boolean | null;
}

export interface TaskContext {
  readonly taskId: string;
  /** 1 for the first run; bee-queue retries and re-runs after a lost worker add one. */
  readonly attempt: number;
  /** Child logger carrying task_id, task_type, queue and attempt. */
  readonly logger: Logger;
  /** Fires on timeout or shutdown; handlers pass it to child processes and requests. */
  readonly signal: AbortSignal;
  readonly config: Config;
  /** The guarded egress dispatcher (SSRF policy) for any outbound request a task makes. */
  readonly dispatcher: Dispatcher;
  /** Reports 0–100; throttled and stored on the task record. */
  reportProgress(percent: number, info?: ProgressInfo): void;
  /** A private scratch directory, created on first call and removed when the task ends. */
  tempDir(): Promise<string>;
}

/** JSON-serialisable task results. */
export type TaskResult = Record<string, unknown>;

export interface TaskDefinition<S extends z.ZodType = z.ZodType, R extends TaskResult = TaskResult> {
  /** `<queue>.<action>`, e.g. `image.resize`. */
  readonly name: string;
  readonly queue: QueueName;
  /** Checked at submit time and again by the worker before the handler runs. */
  readonly input: S;
  /** Default deadline; a request's `options.timeout_s` may lower or raise it. */
  readonly timeoutMs: number;
  /** Tools the worker must find at start-up to run this task (e.g. `ffmpeg`). */
  readonly requires?: readonly ('ffmpeg' | 'ffprobe')[];
  /** Short description for docs and `GET /api/v1/task-types`. */
  readonly description?: string;
  handler(input: z.output<S>, ctx: TaskContext): Promise<R>;
}

/** Type-erased definition as stored in the registry. */
export type AnyTaskDefinition = TaskDefinition<z.ZodType, TaskResult>;

const NAME = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.-]*$/;

export function defineTask<S extends z.ZodType, R extends TaskResult>(def: TaskDefinition<S, R>): TaskDefinition<S, R> {
  if (!NAME.test(def.name)) throw new TypeError(`Task name "${def.name}" must look like "queue.action"`);
  if (!(QUEUE_NAMES as readonly string[]).includes(def.queue)) {
    throw new TypeError(`Task "${def.name}" names unknown queue "${def.queue}" (known: ${QUEUE_NAMES.join(', ')})`);
  }
  if (!Number.isInteger(def.timeoutMs) || def.timeoutMs <= 0) {
    throw new TypeError(`Task "${def.name}" needs a positive integer timeoutMs, got ${String(def.timeoutMs)}`);
  }
  return Object.freeze({ ...def });
}
