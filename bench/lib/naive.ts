/**
 * Phase 1b: the naive reference (naive-main.ts) through the same load
 * generator, receiver and closed loop as taskhook's throughput phase, so
 * "how far is taskhook from the obvious prototype" is measured, not assumed.
 */
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createIpcClient } from './ipc.js';
import type { LoadGenerator } from './loadgen.js';
import { latencies, meteredThroughput, warmUp, type LatencyResult, type MeteredThroughput } from './phases.js';
import { logPath, type ProcessGroup } from './procs.js';
import type { ReceiverHandle } from './receiver.js';
import type { RedisServer } from './redis-server.js';
import { BENCH_API_KEY } from './taskhook.js';

export interface NaiveOptions {
  group: ProcessGroup;
  logDir: string;
  redis: RedisServer;
  load: LoadGenerator;
  receiver: ReceiverHandle;
  workers: number;
  concurrency: number;
  connections: number;
  durationMs: number;
  warmUpMs: number;
  /** Paced rates for its latency, as taskhook's phase 4 (so the tail has an in-run reference too). */
  rates: readonly number[];
  latencyMs: number;
  latencyCollectMs: number;
}

const SCRIPT = fileURLToPath(new URL('./naive-main.ts', import.meta.url));

export async function runNaive(o: NaiveOptions): Promise<MeteredThroughput & { latency: LatencyResult[] }> {
  await o.redis.flushall();
  const config = JSON.stringify({ redisUrl: o.redis.url, prefix: 'naive', queue: 'tasks', concurrency: o.concurrency });
  const procs: ChildProcess[] = [];
  const start = async (role: 'api' | 'worker', name: string): Promise<{ port?: number }> => {
    const child = o.group.node(SCRIPT, { args: [role, config], logFile: logPath(o.logDir, name), ipc: true });
    procs.push(child);
    return createIpcClient(child, `naive ${name}`).event<{ port?: number }>('ready');
  };
  try {
    const workers = await Promise.all(Array.from({ length: o.workers }, (_, i) => start('worker', `naive-worker${i}`)));
    const { port } = await start('api', 'naive-api');
    if (port === undefined || workers.length !== o.workers) throw new Error('naive reference: processes did not start');
    const t = { api: `http://127.0.0.1:${port}`, apiKey: BENCH_API_KEY, taskType: 'debug.echo', taskData: { n: 1 }, callbackUrls: [o.receiver.url(0)] };
    await warmUp(o.load, o.receiver, t, o.warmUpMs);
    const [api, ...workerProcs] = [procs[procs.length - 1], ...procs.slice(0, -1)];
    const parts = { api: [api?.pid], worker: workerProcs.map((w) => w.pid), redis: [o.redis.pid()], loadgen: [o.load.pid], receiver: [o.receiver.pid] };
    const stats = o.redis.client();
    const metered = await meteredThroughput(o.load, o.receiver, t, o.connections, o.durationMs, parts, stats).finally(() => stats.disconnect());
    // It sends completed_at as taskhook does, so both legs of phase 4 are measured the same way.
    return { ...metered, latency: await latencies(o.load, o.receiver, t, o.rates, o.latencyMs, o.latencyCollectMs) };
  } finally {
    await Promise.all(procs.map((p) => o.group.stop(p, 'SIGKILL')));
  }
}
