/** The runner's handle on the load-generator process (`loadgen-main.ts`). */
import { fileURLToPath } from 'node:url';
import { createIpcClient } from './ipc.js';
import { logPath, type ProcessGroup } from './procs.js';
import type { CeilingResult, LoadResult, SubmitTarget } from './loadgen-protocol.js';

export interface LoadGenerator {
  pid: number | undefined;
  /** `connections` clients, each submitting back to back, for `durationMs`. */
  closed(target: SubmitTarget, connections: number, durationMs: number): Promise<LoadResult>;
  /** Paced submissions at `rate`/s for `durationMs`. */
  open(target: SubmitTarget, rate: number, durationMs: number, connections?: number): Promise<LoadResult>;
  batch(target: SubmitTarget, total: number, batchSize?: number, concurrency?: number): Promise<LoadResult>;
  ceiling(url: string, inFlight: number, durationMs: number, body: string): Promise<CeilingResult>;
}

export async function startLoadGenerator(group: ProcessGroup, logDir: string): Promise<LoadGenerator> {
  const script = fileURLToPath(new URL('./loadgen-main.ts', import.meta.url));
  const child = group.node(script, { logFile: logPath(logDir, 'loadgen'), ipc: true });
  const ipc = createIpcClient(child, 'load generator');
  await ipc.event('ready', 30_000);
  const call = async <T>(msg: Record<string, unknown>): Promise<T> => {
    const r = await ipc.call<{ result?: T; error?: string }>(msg);
    if (r.error !== undefined) throw new Error(`load generator: ${r.error}`);
    return r.result as T;
  };
  return {
    pid: child.pid,
    closed: (target, connections, durationMs) => call({ cmd: 'closed', ...target, connections, durationMs }),
    open: (target, rate, durationMs, connections = 64) => call({ cmd: 'open', ...target, rate, durationMs, connections }),
    batch: (target, total, batchSize = 100, concurrency = 4) => call({ cmd: 'batch', ...target, total, batchSize, concurrency }),
    ceiling: (url, inFlight, durationMs, body) => call({ cmd: 'ceiling', url, inFlight, durationMs, body }),
  };
}
