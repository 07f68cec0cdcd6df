/**
 * The end-to-end phases of `npm run bench`: a stack (API + workers on a
 * given Redis), closed-loop throughput, paced latency, isolation, memory.
 * Every figure comes from the load generator's submit times and the
 * receiver's arrival times; nothing is read from the product's own logs.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { distribution, type Distribution } from './stats.js';
import type { LoadGenerator } from './loadgen.js';
import type { LoadResult, SubmitTarget } from './loadgen-protocol.js';
import type { ProcessGroup } from './procs.js';
import { rssMiB } from './procs.js';
import type { ReceiverHandle } from './receiver.js';
import type { ReceiverRecord } from './receiver-protocol.js';
import { freePort } from './redis-server.js';
import type { Redis } from 'ioredis';
import { cpuMeter, type CpuParts } from './cpu.js';
import { redisTrafficMeter, type RedisTraffic } from './redis-traffic.js';
import { BENCH_API_KEY, productEnv, startApi, startWorker, type ApiProc } from './taskhook.js';

export interface StackOptions {
  group: ProcessGroup;
  logDir: string;
  redisUrl: string;
  workers: number;
  concurrency: number;
  queues?: string;
  env?: Record<string, string>;
  cpuProfDir?: string;
  /** Prefix for log/profile names. */
  tag: string;
}

export interface BenchStack {
  api: ApiProc;
  workers: ChildProcess[];
  stop(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<BenchStack> {
  const env = productEnv(o.redisUrl, {
    WORKER_CONCURRENCY: String(o.concurrency),
    WORKER_QUEUES: o.queues ?? 'debug',
    PORT: String(await freePort()),
    ...o.env,
  });
  const common = { group: o.group, logDir: o.logDir, env, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}) };
  const workers = Array.from({ length: o.workers }, (_, i) => startWorker({ ...common, name: `${o.tag}-worker${i}` }));
  const api = await startApi({ ...common, name: `${o.tag}-api` });
  return {
    api,
    workers,
    // SIGTERM: a clean exit, which is also when --cpu-prof writes its profile.
    stop: async () => {
      await Promise.all([api.proc, ...workers].map((p) => o.group.stop(p, 'SIGTERM', 15_000)));
    },
  };
}

export function target(stack: BenchStack, receiver: ReceiverHandle, urls?: string[], taskType = 'debug.echo', taskData: Record<string, unknown> = { n: 1 }): SubmitTarget {
  return { api: stack.api.url, apiKey: BENCH_API_KEY, taskType, taskData, callbackUrls: urls ?? [receiver.url(0)] };
}

/** Waits until the receiver has `n` callbacks answered 200 (or `timeoutMs` passes); returns the records. */
export async function collect(receiver: ReceiverHandle, n: number, timeoutMs: number, filter?: (r: ReceiverRecord) => boolean): Promise<ReceiverRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await receiver.count();
    if (!filter && c.records >= n) break;
    if (filter && c.records >= n) {
      const recs = (await receiver.dump()).filter(filter);
      if (recs.length >= n) return recs;
    }
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  const all = await receiver.dump();
  return filter ? all.filter(filter) : all;
}

/** First receipt per task id. */
function firstReceipts(records: readonly ReceiverRecord[]): Map<string, ReceiverRecord> {
  const m = new Map<string, ReceiverRecord>();
  for (const r of records) if (!m.has(r[2])) m.set(r[2], r);
  return m;
}

/** Submits a little load and waits for every callback: JIT warm-up and proof the workers are up. */
export async function warmUp(load: LoadGenerator, receiver: ReceiverHandle, t: SubmitTarget, ms: number): Promise<void> {
  await receiver.reset();
  const r = await load.closed(t, 8, ms);
  const recs = await collect(receiver, r.accepted, 60_000);
  if (r.accepted === 0 || recs.length < r.accepted) {
    throw new Error(`warm-up: ${r.accepted} accepted, ${recs.length} callbacks (statuses ${JSON.stringify(r.statuses)})`);
  }
  await receiver.reset();
}

export interface ThroughputResult {
  accepted: number;
  acceptedPerSec: number;
  callbacks: number;
  /** Callbacks received while load ran, per second of load. */
  callbacksPerSecDuringLoad: number;
  /** All callbacks / (last callback − start): the sustained end-to-end rate. */
  callbacksPerSec: number;
  drainSec: number;
  complete: boolean;
  statuses: Record<string, number>;
}

export async function throughput(load: LoadGenerator, receiver: ReceiverHandle, t: SubmitTarget, connections: number, durationMs: number): Promise<ThroughputResult> {
  await receiver.reset();
  const r = await load.closed(t, connections, durationMs);
  const recs = await collect(receiver, r.accepted, 120_000);
  const first = firstReceipts(recs);
  let last = 0;
  let during = 0;
  for (const x of first.values()) {
    last = Math.max(last, x[0]);
    if (x[0] <= r.t1) during += 1;
  }
  const loadSec = (r.t1 - r.t0) / 1000;
  return {
    accepted: r.accepted,
    acceptedPerSec: r.accepted / loadSec,
    callbacks: first.size,
    callbacksPerSecDuringLoad: during / loadSec,
    callbacksPerSec: first.size / ((last - r.t0) / 1000),
    drainSec: Math.max(0, (last - r.t1) / 1000),
    complete: first.size >= r.accepted,
    statuses: r.statuses,
  };
}

export interface MeteredThroughput {
  throughput: ThroughputResult;
  /** CPU ms per callback in each named group of processes (and `total`). */
  cpuMsPerTask: CpuParts;
  /** Redis traffic per callback. */
  redis: RedisTraffic;
}

/**
 * `throughput` with what each task cost around it: CPU per process group
 * (load and drain) and Redis traffic (read with `stats`, a client of the
 * stack's Redis that nothing else uses).
 */
export async function meteredThroughput(
  load: LoadGenerator,
  receiver: ReceiverHandle,
  t: SubmitTarget,
  connections: number,
  durationMs: number,
  cpuParts: Record<string, (number | undefined)[]>,
  stats: Redis,
): Promise<MeteredThroughput> {
  const meter = cpuMeter(cpuParts);
  const traffic = await redisTrafficMeter(stats);
  const tp = await throughput(load, receiver, t, connections, durationMs);
  const cpuMsPerTask = meter.stop(tp.callbacks);
  return { throughput: tp, cpuMsPerTask, redis: await traffic.stop(tp.callbacks) };
}

export interface LatencyResult {
  rate: number;
  offered: number;
  accepted: number;
  acceptedPerSec: number;
  /** Tasks never called back within the wait count as Infinity. */
  submitToCallbackMs: Distribution;
  completedToCallbackMs: Distribution;
  complete: boolean;
  /** Not every callback arrived within `collectMs` after the load stopped: the rate is beyond capacity. */
  saturated: boolean;
  /** Not run because a lower rate already saturated. */
  skipped: boolean;
  pacerLagMaxMs: number;
  statuses: Record<string, number>;
}

export function skippedLatency(rate: number): LatencyResult {
  const none = distribution([]);
  return { rate, offered: 0, accepted: 0, acceptedPerSec: Number.NaN, submitToCallbackMs: none, completedToCallbackMs: none, complete: false, saturated: true, skipped: true, pacerLagMaxMs: 0, statuses: {} };
}

export async function latency(load: LoadGenerator, receiver: ReceiverHandle, t: SubmitTarget, rate: number, durationMs: number, collectMs: number): Promise<LatencyResult> {
  await receiver.reset();
  const r: LoadResult = await load.open(t, rate, durationMs);
  const recs = await collect(receiver, r.accepted, collectMs);
  const first = firstReceipts(recs);
  const s2c: number[] = [];
  const c2c: number[] = [];
  for (const [id, at] of r.submits) {
    const got = first.get(id);
    if (!got) {
      s2c.push(Number.POSITIVE_INFINITY);
      c2c.push(Number.POSITIVE_INFINITY);
      continue;
    }
    s2c.push(got[0] - at);
    if (Number.isFinite(got[3])) c2c.push(got[0] - got[3]);
  }
  const offered = Math.floor((rate * durationMs) / 1000);
  const allBack = first.size >= r.accepted;
  return {
    rate,
    offered,
    accepted: r.accepted,
    // Until the last answer: an overloaded API answers after the pacer stops.
    acceptedPerSec: r.accepted / ((Math.max(r.t1, r.tDone) - r.t0) / 1000),
    submitToCallbackMs: distribution(s2c),
    completedToCallbackMs: distribution(c2c),
    complete: allBack && r.accepted === offered,
    saturated: !allBack,
    skipped: false,
    pacerLagMaxMs: r.lagMaxMs ?? 0,
    statuses: r.statuses,
  };
}

/**
 * Paced latency at each rate in turn; once one saturates, the higher rates
 * are skipped (they would only grow the backlog).
 */
export async function latencies(
  load: LoadGenerator,
  receiver: ReceiverHandle,
  t: SubmitTarget,
  rates: readonly number[],
  durationMs: number,
  collectMs: number,
  onRate: (rate: number) => void = () => undefined,
): Promise<LatencyResult[]> {
  const out: LatencyResult[] = [];
  let saturated = false;
  for (const rate of rates) {
    if (saturated) {
      out.push(skippedLatency(rate));
      continue;
    }
    onRate(rate);
    const l = await latency(load, receiver, t, rate, durationMs, collectMs);
    out.push(l);
    saturated = l.saturated;
  }
  return out;
}

export interface IsolationSample {
  /** Healthy receiver's callbacks per second (all its callbacks / time to the last one). */
  healthyPerSec: number;
  healthyCallbacks: number;
  healthyAccepted: number;
  acceptedPerSec: number;
}

/** Closed-loop load split over two receivers (ports 0 and 1); measures port 0. */
export async function isolationSample(load: LoadGenerator, receiver: ReceiverHandle, t: SubmitTarget, connections: number, durationMs: number): Promise<IsolationSample> {
  await receiver.reset();
  const r = await load.closed(t, connections, durationMs);
  const healthyIds = new Set(r.submits.filter((s) => s[2] === 0).map((s) => s[0]));
  const port0 = receiver.ports[0];
  const recs = await collect(receiver, healthyIds.size, 120_000, (x) => x[1] === port0 && healthyIds.has(x[2]));
  const first = firstReceipts(recs);
  let last = r.t0;
  for (const x of first.values()) last = Math.max(last, x[0]);
  return {
    healthyPerSec: first.size / ((last - r.t0) / 1000),
    healthyCallbacks: first.size,
    healthyAccepted: healthyIds.size,
    acceptedPerSec: r.accepted / ((r.t1 - r.t0) / 1000),
  };
}

export function rssOf(procs: readonly ChildProcess[]): number[] {
  return procs.map((p) => rssMiB(p.pid));
}
