/** The shape of `bench/results/<date>.json`. */
import type { Aggregate, Distribution } from './stats.js';
import type { ImageResult } from './image.js';
import type { ProfileSummary } from './profile.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  redis: string;
  os: string;
  /** Host CPU steal time over the whole run, in percent (absent in older results). */
  stealPct?: number;
}

export interface LatencyAgg {
  rate: number;
  acceptedPerSec: Aggregate;
  submitToCallback: { p50: Aggregate; p95: Aggregate; p99: Aggregate };
  completedToCallback: { p50: Aggregate; p95: Aggregate; p99: Aggregate };
  /** Per run: every offered task accepted and called back. */
  complete: boolean[];
  /** Per run: callbacks still missing `latencyCollectMs` after the load stopped. */
  saturated: boolean[];
  /** Per run: not run because a lower rate saturated. */
  skipped: boolean[];
}

export interface E2eAgg {
  acceptedPerSec: Aggregate;
  callbacksPerSec: Aggregate;
  callbacksPerSecDuringLoad: Aggregate;
  drainSec: Aggregate;
  /** callbacks/s ÷ raw bee-queue jobs/s, per run. */
  ratioToBeeQueue: Aggregate;
  /** CPU ms per task in each process (api, worker, redis, loadgen, receiver, total) during the throughput phase. */
  cpuMsPerTask?: Record<string, Aggregate>;
  /** Redis commands (scripts' inner commands included) and socket reads per task, same phase. */
  redisPerTask?: { commands: Aggregate; reads: Aggregate };
  /** Redis used_memory per finished task (its record, delivered callback and attempt), same phase; absent in results written before it was measured. */
  redisBytesPerFinishedTask?: Aggregate;
  complete: boolean[];
  latency: LatencyAgg[];
}

/** Phase 1b: the naive reference (bench/lib/naive-main.ts), closed loop like phase 3. */
export interface NaiveAgg {
  callbacksPerSec: Aggregate;
  /** Its callbacks/s ÷ raw bee-queue jobs/s, per run. */
  ratioToBeeQueue: Aggregate;
  /** taskhook's (AOF off) callbacks/s ÷ the naive reference's, per run. */
  taskhookRatio: Aggregate;
  cpuMsPerTask: Record<string, Aggregate>;
  redisPerTask: { commands: Aggregate; reads: Aggregate };
  complete: boolean[];
  /** Phase 4's paced rates run against it too (absent in results written before it was measured). */
  latency?: LatencyAgg[];
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  /** null: this run cannot say (the figure was not measured, or too few tasks ran for it). */
  met: boolean | null;
}

export interface BenchResults {
  date: string;
  quick: boolean;
  runs: number;
  elapsedSec: number;
  machine: Machine;
  commands: string[];
  /** `--env` settings applied to every product process (experiments). */
  envOverrides: Record<string, string>;
  params: Record<string, number | string>;
  baseline: { jobs: number; jobsPerSec: Aggregate };
  /** Absent in results written before it was measured. */
  naive?: NaiveAgg;
  ceiling: { inFlight: number; reqPerSec: Aggregate };
  raw: E2eAgg;
  durable: E2eAgg;
  isolation: { allHealthyPerSec: Aggregate; oneHangingPerSec: Aggregate; ratio: Aggregate; callbackTimeoutMs: number };
  memory: {
    apiIdleMiB: Aggregate;
    apiAfterMiB: Aggregate;
    workerIdleMiB: Aggregate;
    workerAfterMiB: Aggregate;
    tasksPerWorker: number[];
    redisTasks: number;
    redisBytesPerTask: number;
  };
  image: ImageResult;
  profile: { api: ProfileSummary; worker: ProfileSummary; seconds: number } | null;
  targets: TargetCheck[];
  /** Per-run raw figures, for anyone who wants to recompute. */
  detail: unknown[];
}

export type { Distribution };
