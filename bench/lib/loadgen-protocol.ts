/** Messages between the bench runner and its load-generator process. */

export interface SubmitTarget {
  /** API base URL. */
  api: string;
  apiKey: string;
  taskType: string;
  taskData: Record<string, unknown>;
  /** Callback URLs, used round-robin (task i gets urls[i % n]). */
  callbackUrls: string[];
}

export type LoadCommand =
  | ({ id: number; cmd: 'closed'; connections: number; durationMs: number } & SubmitTarget)
  | ({ id: number; cmd: 'open'; rate: number; durationMs: number; connections: number } & SubmitTarget)
  | ({ id: number; cmd: 'batch'; total: number; batchSize: number; concurrency: number } & SubmitTarget)
  | { id: number; cmd: 'ceiling'; url: string; inFlight: number; durationMs: number; body: string };

/** One accepted task: id, submit time (scheduled time in open loop), callback URL index. */
export type Submitted = [taskId: string, submittedAt: number, urlIndex: number];

export interface LoadResult {
  /** Requests answered 202 (tasks accepted). */
  accepted: number;
  /** Responses by status code, plus `error` for transport errors. */
  statuses: Record<string, number>;
  t0: number;
  /** When the last request was sent (the load stopped). */
  t1: number;
  /** When the last response arrived. */
  tDone: number;
  submits: Submitted[];
  /** Open loop: the pacer's worst lag behind schedule. */
  lagMaxMs?: number;
}

export interface CeilingResult {
  count: number;
  errors: number;
  t0: number;
  t1: number;
}
