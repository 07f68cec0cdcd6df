/**
 * The worker alone: `tasks` callback tasks are queued through the API with
 * no worker running, the API is stopped, then one worker is started and
 * works through them. CPU per task of the worker, Redis and the receiver is
 * read from /proc between the first callback and the last, so start-up is
 * not counted.
 *
 * Why: in the closed loop five processes share two cores and the worker's
 * CPU per task moves ±15% from run to run; draining, the worker is the one
 * busy process (its wall time per task ≈ its CPU per task), and in a quiet
 * hour most runs stay within ~±4% (docs/benchmarks.md, How to run).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds } from './cpu.js';
import { logPath, type ProcessGroup } from './procs.js';
import type { ReceiverHandle } from './receiver.js';
import type { LoadGenerator } from './loadgen.js';
import type { RedisServer } from './redis-server.js';
import { BENCH_API_KEY, waitReady } from './taskhook.js';

export interface DrainOptions {
  group: ProcessGroup;
  logDir: string;
  /** Log file prefix. */
  name: string;
  redis: RedisServer;
  receiver: ReceiverHandle;
  load: LoadGenerator;
  /** Entry points: compiled `.js` (run with plain node) or `.ts` (run with tsx). */
  apiScript: string;
  workerScript: string;
  workerFlags?: string[];
  /** The product's environment; `PORT` is the API's. */
  env: Record<string, string>;
  tasks: number;
  /** Longest wait for the last callback. @default 120000 */
  timeoutMs?: number;
}

export interface DrainResult {
  /** Tasks called back between the two readings (the first callback's batch is not counted). */
  tasks: number;
  cpuMsPerTask: { worker: number; redis: number; receiver: number };
  wallMsPerTask: number;
}

export async function drainPhase(o: DrainOptions): Promise<DrainResult> {
  const compiled = (script: string): boolean => script.endsWith('.js');
  const url = `http://127.0.0.1:${o.env.PORT}`;
  await o.receiver.reset();
  const api = o.group.node(o.apiScript, { env: o.env, logFile: logPath(o.logDir, `${o.name}-api`), compiled: compiled(o.apiScript) });
  let queued: number;
  try {
    await waitReady(url, api, 30_000);
    const t = { api: url, apiKey: BENCH_API_KEY, taskType: 'debug.echo', taskData: { n: 1 }, callbackUrls: [o.receiver.url(0)] };
    queued = (await o.load.batch(t, o.tasks, 100, 4)).accepted;
  } finally {
    await o.group.stop(api);
  }
  if (queued < o.tasks) throw new Error(`drain: only ${queued} of ${o.tasks} tasks were accepted`);

  const worker = o.group.node(o.workerScript, {
    env: o.env,
    nodeArgs: o.workerFlags ?? [],
    logFile: logPath(o.logDir, `${o.name}-worker`),
    compiled: compiled(o.workerScript),
  });
  try {
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    const count = async (): Promise<number> => {
      if (Date.now() > deadline) throw new Error(`drain: not every callback arrived within ${o.timeoutMs ?? 120_000} ms`);
      if (worker.exitCode !== null) throw new Error(`drain: the worker exited (${worker.exitCode}); see its log`);
      return (await o.receiver.count()).records;
    };
    let first = await count();
    while (first === 0) {
      await sleep(5);
      first = await count();
    }
    const before = { worker: cpuSeconds(worker.pid), redis: cpuSeconds(o.redis.pid()), receiver: cpuSeconds(o.receiver.pid) };
    const started = performance.now();
    let last = first;
    while (last < queued) {
      await sleep(20);
      last = await count();
    }
    const wallMs = performance.now() - started;
    const n = Math.max(1, last - first);
    const per = (s0: number, s1: number): number => ((s1 - s0) * 1000) / n;
    return {
      tasks: last - first,
      cpuMsPerTask: {
        worker: per(before.worker, cpuSeconds(worker.pid)),
        redis: per(before.redis, cpuSeconds(o.redis.pid())),
        receiver: per(before.receiver, cpuSeconds(o.receiver.pid)),
      },
      wallMsPerTask: wallMs / n,
    };
  } finally {
    await o.group.stop(worker);
  }
}
