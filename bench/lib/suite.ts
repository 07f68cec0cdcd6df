/**
 * One iteration of the repeated bench phases (1–6 except Redis bytes per
 * task), with every ratio computed inside the iteration so machine speed
 * cancels.
 */
import type { LoadGenerator } from './loadgen.js';
import {
  isolationSample,
  latencies,
  rssOf,
  startStack,
  target,
  meteredThroughput,
  warmUp,
  type IsolationSample,
  type LatencyResult,
  type StackOptions,
  type ThroughputResult,
} from './phases.js';
import type { ProcessGroup } from './procs.js';
import type { ReceiverHandle } from './receiver.js';
import type { RedisServer } from './redis-server.js';
import { runBeeQueueBaseline, type BaselineResult } from './baseline.js';
import type { CpuParts } from './cpu.js';
import { runNaive } from './naive.js';

export interface SuiteParams {
  baselineJobs: number;
  concurrency: number;
  workers: number;
  connections: number;
  ceilingMs: number;
  throughputMs: number;
  latencyMs: number;
  /** Wait for the last callback after a paced phase; beyond it the rate counts as saturated. */
  latencyCollectMs: number;
  rates: number[];
  durableRates: number[];
  isolationMs: number;
  isolationTimeoutMs: number;
  warmUpMs: number;
}

export interface E2eRun {
  throughput: ThroughputResult;
  /** CPU ms per callback in each process over the throughput phase (load + drain). */
  cpuMsPerTask: CpuParts;
  /** Redis commands and socket reads per callback over the same phase. */
  redisPerTask: { commands: number; reads: number };
  latency: LatencyResult[];
  rss: { apiIdle: number; workerIdle: number; apiAfter: number; workerAfter: number; tasks: number };
  /** Redis used_memory grown over the throughput phase ÷ its callbacks: what a finished task keeps until retention removes it. */
  redisBytesPerFinishedTask: number;
}

/** Phase 1b: the naive reference's closed-loop throughput and what it cost, and its latency at the same paced rates. */
export interface NaiveRun {
  throughput: ThroughputResult;
  cpuMsPerTask: CpuParts;
  redisPerTask: { commands: number; reads: number };
  latency: LatencyResult[];
}

export interface SuiteRun {
  baseline: BaselineResult;
  naive: NaiveRun;
  ceiling: { reqPerSec: number; errors: number };
  raw: E2eRun;
  durable: E2eRun;
  isolation: { allHealthy: IsolationSample; oneHanging: IsolationSample; ratio: number };
}

export interface SuiteDeps {
  group: ProcessGroup;
  logDir: string;
  rawRedis: RedisServer;
  durableRedis: RedisServer;
  load: LoadGenerator;
  receiver: ReceiverHandle;
  log(msg: string): void;
}

/** A callback-sized body for the ceiling loop (what a debug.echo callback weighs). */
export const CALLBACK_BODY = JSON.stringify({
  event: 'task.completed',
  task_id: '00000000-0000-4000-8000-000000000000',
  project_id: null,
  task_type: 'debug.echo',
  status: 'completed',
  result: { n: 1 },
  processing_time: 0.001,
  completed_at: new Date(0).toISOString(),
  metadata: {},
});

async function e2e(d: SuiteDeps, p: SuiteParams, redis: RedisServer, tag: string, rates: number[]): Promise<E2eRun> {
  await redis.flushall();
  const opts: StackOptions = { group: d.group, logDir: d.logDir, redisUrl: redis.url, workers: p.workers, concurrency: p.concurrency, tag, env: { SHUTDOWN_GRACE_MS: '2000' } };
  const stack = await startStack(opts);
  try {
    const t = target(stack, d.receiver);
    await warmUp(d.load, d.receiver, t, p.warmUpMs);
    const [apiIdle = Number.NaN] = rssOf([stack.api.proc]);
    const workerIdle = Math.max(...rssOf(stack.workers));
    d.log(`  ${tag}: throughput, ${p.connections} connections, ${p.throughputMs / 1000} s`);
    const stats = redis.client();
    const parts = { api: [stack.api.proc.pid], worker: stack.workers.map((w) => w.pid), redis: [redis.pid()], loadgen: [d.load.pid], receiver: [d.receiver.pid] };
    const memBefore = await redis.usedMemory();
    const m = await meteredThroughput(d.load, d.receiver, t, p.connections, p.throughputMs, parts, stats).finally(() => stats.disconnect());
    const { throughput: tp, cpuMsPerTask } = m;
    // The attempt records follow the last callback by a batch or two.
    await new Promise((r) => setTimeout(r, 500));
    const redisBytesPerFinishedTask = ((await redis.usedMemory()) - memBefore) / Math.max(1, tp.callbacks);
    const { commands, reads } = m.redis;
    const lat = await latencies(d.load, d.receiver, t, rates, p.latencyMs, p.latencyCollectMs, (rate) => d.log(`  ${tag}: latency at ${rate}/s, ${p.latencyMs / 1000} s`));
    const tasks = lat.reduce((sum, l) => sum + l.accepted, tp.accepted);
    const [apiAfter = Number.NaN] = rssOf([stack.api.proc]);
    const workerAfter = Math.max(...rssOf(stack.workers));
    return {
      throughput: tp,
      cpuMsPerTask,
      redisPerTask: { commands, reads },
      latency: lat,
      rss: { apiIdle, workerIdle, apiAfter, workerAfter, tasks: Math.round(tasks / p.workers) },
      redisBytesPerFinishedTask,
    };
  } finally {
    await stack.stop();
  }
}

async function isolation(d: SuiteDeps, p: SuiteParams, hang: boolean): Promise<IsolationSample> {
  await d.rawRedis.flushall();
  const stack = await startStack({
    group: d.group,
    logDir: d.logDir,
    redisUrl: d.rawRedis.url,
    workers: p.workers,
    concurrency: p.concurrency,
    tag: hang ? 'iso-hang' : 'iso-ok',
    env: { SHUTDOWN_GRACE_MS: '1000', CALLBACK_TIMEOUT_MS: String(p.isolationTimeoutMs) },
  });
  try {
    await warmUp(d.load, d.receiver, target(stack, d.receiver), p.warmUpMs);
    const hangPort = d.receiver.ports[1] as number;
    if (hang) await d.receiver.mode(hangPort, 'hang');
    try {
      return await isolationSample(d.load, d.receiver, target(stack, d.receiver, [d.receiver.url(0), d.receiver.url(1)]), p.connections, p.isolationMs);
    } finally {
      await d.receiver.mode(hangPort, 'ok');
    }
  } finally {
    await stack.stop();
  }
}

export async function runSuite(d: SuiteDeps, p: SuiteParams): Promise<SuiteRun> {
  d.log(`  baseline: raw bee-queue, ${p.baselineJobs} no-op jobs, concurrency ${p.concurrency}`);
  await d.rawRedis.flushall();
  const baseline = await runBeeQueueBaseline(d.group, d.rawRedis.url, d.logDir, p.baselineJobs, p.concurrency);

  d.log(`  naive reference: Koa → bee-queue → undici POST, unsigned, ${p.connections} connections, ${p.throughputMs / 1000} s, then paced`);
  const n = await runNaive({
    ...d,
    redis: d.rawRedis,
    workers: p.workers,
    concurrency: p.concurrency,
    connections: p.connections,
    durationMs: p.throughputMs,
    warmUpMs: p.warmUpMs,
    rates: p.rates,
    latencyMs: p.latencyMs,
    latencyCollectMs: p.latencyCollectMs,
  });
  const naive = { throughput: n.throughput, cpuMsPerTask: n.cpuMsPerTask, redisPerTask: { commands: n.redis.commands, reads: n.redis.reads }, latency: n.latency };

  d.log(`  ceiling: undici POST loop, 50 in flight, ${p.ceilingMs / 1000} s`);
  await d.receiver.reset();
  const c = await d.load.ceiling(d.receiver.url(0), 50, p.ceilingMs, CALLBACK_BODY);
  await d.receiver.reset();

  const raw = await e2e(d, p, d.rawRedis, 'raw', p.rates);
  d.log(`  isolation: all healthy, ${p.isolationMs / 1000} s`);
  const allHealthy = await isolation(d, p, false);
  d.log(`  isolation: one receiver hanging, ${p.isolationMs / 1000} s`);
  const oneHanging = await isolation(d, p, true);
  const durable = await e2e(d, p, d.durableRedis, 'aof', p.durableRates);
  return {
    baseline,
    naive,
    ceiling: { reqPerSec: c.count / ((c.t1 - c.t0) / 1000), errors: c.errors },
    raw,
    durable,
    isolation: { allHealthy, oneHanging, ratio: oneHanging.healthyPerSec / allHealthy.healthyPerSec },
  };
}
