/**
 * `npm run bench [-- --quick] [-- --runs N] [-- --workers N] [-- --no-profile] [-- --no-docs]`
 *
 * Starts private redis-servers (AOF off, and AOF everysec), the API, worker
 * processes, a bare node:http receiver and a load generator (each its own
 * process, all on 127.0.0.1), measures, and writes a table to stdout,
 * bench/results/<date>.json, an SVG chart, and docs/benchmarks.md.
 */
import { copyFileSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { aggregate } from './lib/stats.js';
import { stealMeter } from './lib/cpu.js';
import { createProcessGroup } from './lib/procs.js';
import { redisVersion, startRedisServer } from './lib/redis-server.js';
import { startReceiver } from './lib/receiver.js';
import { startLoadGenerator } from './lib/loadgen.js';
import { runSuite, type E2eRun, type SuiteParams, type SuiteRun } from './lib/suite.js';
import { startStack, target, throughput, warmUp, type LatencyResult } from './lib/phases.js';
import { mainThreadProfile, setEnvOverrides, snapshotProduct } from './lib/taskhook.js';
import type { ReceiverHandle } from './lib/receiver.js';
import type { LoadGenerator } from './lib/loadgen.js';
import type { RedisServer } from './lib/redis-server.js';
import { imagePhase } from './lib/image.js';
import { summariseProfileFile } from './lib/profile.js';
import { renderChart } from './lib/chart.js';
import { checkTargets, renderTable, updateDocs } from './lib/report.js';
import type { BenchResults, E2eAgg, LatencyAgg, NaiveAgg } from './lib/results.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    workers: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    /** Product setting for every API/worker process, e.g. `--env CALLBACK_HOST_CONCURRENCY=64` (repeatable). */
    env: { type: 'string', multiple: true },
  },
});
const quick = argv.quick === true;
const runs = Number(argv.runs ?? (quick ? 1 : 3));
const params: SuiteParams = {
  baselineJobs: quick ? 5000 : 20_000,
  concurrency: 50,
  workers: Number(argv.workers ?? 1),
  connections: 50,
  ceilingMs: quick ? 2000 : 5000,
  throughputMs: quick ? 3000 : 10_000,
  latencyMs: quick ? 2000 : 5000,
  latencyCollectMs: quick ? 8000 : 15_000,
  // --quick must finish in under a minute: it skips the 3,000/s rate and
  // shortens the isolation phases (with a hang timeout to match).
  rates: quick ? [1000, 2000] : [1000, 2000, 3000],
  durableRates: quick ? [2000] : [1000, 2000, 3000],
  isolationMs: quick ? 2000 : 8000,
  isolationTimeoutMs: quick ? 2000 : 5000,
  warmUpMs: quick ? 500 : 1500,
};
const redisTasks = quick ? 10_000 : 100_000;
const imageTasks = quick ? 12 : 120;
const imageConcurrency = 4;
const profile = !argv['no-profile'] && !quick;

const envOverrides = Object.fromEntries(
  (argv.env ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env expects KEY=VALUE, got "${kv}"`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
setEnvOverrides(envOverrides);

const group = createProcessGroup();
const workDir = mkdtempSync(join(tmpdir(), 'taskhook-bench-'));
const logDir = join(workDir, 'logs');
mkdirSync(logDir, { recursive: true });
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

let cleaning = false;
async function cleanup(code: number): Promise<never> {
  if (!cleaning) {
    cleaning = true;
    await group.stopAll(3000).catch(() => group.killAllNow());
    if (!argv['keep-logs'] && code === 0) rmSync(workDir, { recursive: true, force: true });
    else log(`logs kept in ${logDir}`);
  }
  process.exit(code);
}
process.on('exit', () => group.killAllNow());
process.on('SIGINT', () => void cleanup(130));
process.on('SIGTERM', () => void cleanup(143));

/** Phase 4 per rate over the runs (`runs[i]` is run i's list, one entry per rate). */
function latencyAgg(runs: LatencyResult[][]): LatencyAgg[] {
  return (runs[0] ?? []).map((_, i) => {
    const ls = runs.map((r) => r[i]!);
    const pick = (f: (l: (typeof ls)[number]) => number) => aggregate(ls.map(f));
    return {
      rate: ls[0]!.rate,
      acceptedPerSec: pick((l) => l.acceptedPerSec),
      submitToCallback: { p50: pick((l) => l.submitToCallbackMs.p50), p95: pick((l) => l.submitToCallbackMs.p95), p99: pick((l) => l.submitToCallbackMs.p99) },
      completedToCallback: { p50: pick((l) => l.completedToCallbackMs.p50), p95: pick((l) => l.completedToCallbackMs.p95), p99: pick((l) => l.completedToCallbackMs.p99) },
      complete: ls.map((l) => l.complete),
      saturated: ls.map((l) => l.saturated),
      skipped: ls.map((l) => l.skipped),
    };
  });
}

function e2eAgg(rs: E2eRun[], baselines: number[]): E2eAgg {
  return {
    acceptedPerSec: aggregate(rs.map((r) => r.throughput.acceptedPerSec)),
    callbacksPerSec: aggregate(rs.map((r) => r.throughput.callbacksPerSec)),
    callbacksPerSecDuringLoad: aggregate(rs.map((r) => r.throughput.callbacksPerSecDuringLoad)),
    drainSec: aggregate(rs.map((r) => r.throughput.drainSec)),
    ratioToBeeQueue: aggregate(rs.map((r, i) => r.throughput.callbacksPerSec / (baselines[i] ?? Number.NaN))),
    cpuMsPerTask: Object.fromEntries(Object.keys(rs[0]?.cpuMsPerTask ?? {}).map((k) => [k, aggregate(rs.map((r) => r.cpuMsPerTask[k] ?? Number.NaN))])),
    redisPerTask: { commands: aggregate(rs.map((r) => r.redisPerTask.commands)), reads: aggregate(rs.map((r) => r.redisPerTask.reads)) },
    redisBytesPerFinishedTask: aggregate(rs.map((r) => r.redisBytesPerFinishedTask)),
    complete: rs.map((r) => r.throughput.complete),
    latency: latencyAgg(rs.map((r) => r.latency)),
  };
}

function naiveAgg(suite: SuiteRun[]): NaiveAgg {
  const ns = suite.map((s) => s.naive);
  const cpu = (k: string) => aggregate(ns.map((n) => n.cpuMsPerTask[k] ?? Number.NaN));
  return {
    callbacksPerSec: aggregate(ns.map((n) => n.throughput.callbacksPerSec)),
    ratioToBeeQueue: aggregate(suite.map((s) => s.naive.throughput.callbacksPerSec / s.baseline.jobsPerSec)),
    taskhookRatio: aggregate(suite.map((s) => s.raw.throughput.callbacksPerSec / s.naive.throughput.callbacksPerSec)),
    cpuMsPerTask: Object.fromEntries(Object.keys(ns[0]?.cpuMsPerTask ?? {}).map((k) => [k, cpu(k)])),
    redisPerTask: { commands: aggregate(ns.map((n) => n.redisPerTask.commands)), reads: aggregate(ns.map((n) => n.redisPerTask.reads)) },
    complete: ns.map((n) => n.throughput.complete),
    latency: latencyAgg(ns.map((n) => n.latency)),
  };
}

/** One closed-loop throughput phase with --cpu-prof on the API and the worker; summaries of both main threads. */
async function profilePhase(rawRedis: RedisServer, receiver: ReceiverHandle, load: LoadGenerator): Promise<BenchResults['profile']> {
  log(`profile: --cpu-prof on API and worker during ${params.throughputMs / 1000} s of closed-loop load`);
  const profDir = join(workDir, 'profiles');
  await rawRedis.flushall();
  const stack = await startStack({ group, logDir, redisUrl: rawRedis.url, workers: 1, concurrency: params.concurrency, tag: 'prof', cpuProfDir: profDir, env: { SHUTDOWN_GRACE_MS: '2000' } });
  try {
    const t = target(stack, receiver);
    await warmUp(load, receiver, t, params.warmUpMs);
    await throughput(load, receiver, t, params.connections, params.throughputMs);
  } finally {
    await stack.stop();
  }
  const apiFile = mainThreadProfile(join(profDir, 'prof-api'));
  const workerFile = mainThreadProfile(join(profDir, 'prof-worker0'));
  if (!apiFile || !workerFile) {
    log('profile: no main-thread .cpuprofile written (did the processes exit cleanly?)');
    return null;
  }
  // Kept beside the results (git-ignored) for a closer look with Chrome DevTools or bench/lib/profile.ts.
  const results = join(ROOT, 'bench', 'results');
  copyFileSync(apiFile, join(results, 'prof-api.cpuprofile'));
  copyFileSync(workerFile, join(results, 'prof-worker0.cpuprofile'));
  return { api: summariseProfileFile(apiFile, 15), worker: summariseProfileFile(workerFile, 15), seconds: params.throughputMs / 1000 };
}

/** `--profile-only`: re-measures just the profile and patches it into the latest full results. */
async function profileOnly(): Promise<void> {
  snapshotProduct(join(workDir, 'product'));
  const rawRedis = await startRedisServer({ group, dir: join(workDir, 'redis-raw'), appendonly: false });
  const receiver = await startReceiver({ group, logDir, ports: 1 });
  const load = await startLoadGenerator(group, logDir);
  const prof = await profilePhase(rawRedis, receiver, load);
  const dir = join(ROOT, 'bench', 'results');
  const latest = readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort().pop();
  if (!latest) throw new Error('no full results to patch; run npm run bench first');
  const results = JSON.parse(readFileSync(join(dir, latest), 'utf8')) as BenchResults;
  results.profile = prof;
  writeFileSync(join(dir, latest), `${JSON.stringify(results, null, 2)}\n`);
  if (!argv['no-docs']) updateDocs(join(ROOT, 'docs', 'benchmarks.md'), results, '../bench/results/latest.svg');
  log(`patched the profile into bench/results/${latest}`);
}

async function main(): Promise<void> {
  if (argv['profile-only']) return profileOnly();
  const started = Date.now();
  const steal = stealMeter();
  log(`taskhook bench (${quick ? 'quick' : 'full'}: ${runs} run(s)); work dir ${workDir}`);
  snapshotProduct(join(workDir, 'product'));
  const rawRedis = await startRedisServer({ group, dir: join(workDir, 'redis-raw'), appendonly: false });
  const durableRedis = await startRedisServer({ group, dir: join(workDir, 'redis-aof'), appendonly: true });
  const receiver = await startReceiver({ group, logDir, ports: 2 });
  const load = await startLoadGenerator(group, logDir);
  const deps = { group, logDir, rawRedis, durableRedis, load, receiver, log };

  const suite: SuiteRun[] = [];
  for (let i = 0; i < runs; i++) {
    log(`run ${i + 1}/${runs}`);
    suite.push(await runSuite(deps, params));
  }

  log(`redis bytes per waiting task: ${redisTasks} tasks, no worker`);
  await rawRedis.flushall();
  const apiOnly = await startStack({ group, logDir, redisUrl: rawRedis.url, workers: 0, concurrency: 1, tag: 'mem' });
  let redisBytesPerTask = Number.NaN;
  try {
    const t = target(apiOnly, receiver);
    await load.batch(t, 1, 1, 1); // bee-queue's own per-queue keys exist before we measure
    const before = await rawRedis.usedMemory();
    const r = await load.batch(t, redisTasks, 100, 4);
    const after = await rawRedis.usedMemory();
    if (r.accepted !== redisTasks) throw new Error(`only ${r.accepted} of ${redisTasks} tasks accepted: ${JSON.stringify(r.statuses)}`);
    redisBytesPerTask = (after - before) / r.accepted;
  } finally {
    await apiOnly.stop();
  }

  log(`image.resize vs sharp alone: ${imageTasks} images, concurrency ${imageConcurrency}`);
  await rawRedis.flushall();
  const image = await imagePhase({ group, logDir, redisUrl: rawRedis.url, tag: 'image', env: { SHUTDOWN_GRACE_MS: '2000' } }, load, receiver, workDir, imageTasks, imageConcurrency);

  const prof = profile ? await profilePhase(rawRedis, receiver, load) : null;

  const baselines = suite.map((s) => s.baseline.jobsPerSec);
  const mem = suite.map((s) => s.raw.rss);
  const results: BenchResults = {
    date: new Date().toISOString(),
    quick,
    runs,
    elapsedSec: Math.round((Date.now() - started) / 1000),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      redis: redisVersion(),
      os: `${osType()} ${release()}`,
      stealPct: steal.stop(),
    },
    commands: [`npm run bench${quick || argv.env ? ' --' : ''}${quick ? ' --quick' : ''}${(argv.env ?? []).map((e) => ` --env ${e}`).join('')}`],
    envOverrides,
    params: { ...params, rates: params.rates.join(','), durableRates: params.durableRates.join(','), redisTasks, imageTasks, imageConcurrency },
    baseline: { jobs: params.baselineJobs, jobsPerSec: aggregate(baselines) },
    naive: naiveAgg(suite),
    ceiling: { inFlight: 50, reqPerSec: aggregate(suite.map((s) => s.ceiling.reqPerSec)) },
    raw: e2eAgg(suite.map((s) => s.raw), baselines),
    durable: e2eAgg(suite.map((s) => s.durable), baselines),
    isolation: {
      allHealthyPerSec: aggregate(suite.map((s) => s.isolation.allHealthy.healthyPerSec)),
      oneHangingPerSec: aggregate(suite.map((s) => s.isolation.oneHanging.healthyPerSec)),
      ratio: aggregate(suite.map((s) => s.isolation.ratio)),
      callbackTimeoutMs: params.isolationTimeoutMs,
    },
    memory: {
      apiIdleMiB: aggregate(mem.map((m) => m.apiIdle)),
      apiAfterMiB: aggregate(mem.map((m) => m.apiAfter)),
      workerIdleMiB: aggregate(mem.map((m) => m.workerIdle)),
      workerAfterMiB: aggregate(mem.map((m) => m.workerAfter)),
      tasksPerWorker: mem.map((m) => m.tasks),
      redisTasks,
      redisBytesPerTask,
    },
    image,
    profile: prof,
    targets: [],
    detail: suite.map((s) => ({
      ...s,
      raw: { ...s.raw, latency: s.raw.latency },
    })),
  };
  results.targets = checkTargets(results);

  const day = results.date.slice(0, 10);
  const outDir = join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const experiment = Object.keys(envOverrides).length > 0;
  const base = `${day}${quick ? '-quick' : ''}${experiment ? '-env' : ''}`;
  writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, `${base}.svg`), renderChart(results));
  if (!quick && !experiment) writeFileSync(join(outDir, 'latest.svg'), renderChart(results));
  process.stdout.write(`${renderTable(results)}\n`);
  if (!quick && !experiment && !argv['no-docs']) updateDocs(join(ROOT, 'docs', 'benchmarks.md'), results, `../bench/results/latest.svg`);
  log(`wrote bench/results/${base}.json${quick || argv['no-docs'] ? '' : ' and docs/benchmarks.md'} in ${results.elapsedSec} s`);
}

main().then(
  () => cleanup(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return cleanup(1);
  },
);
