/**
 * `npm run bench:compare -- --base REV [--head REV] [--reps 3] [--seconds 8] [--rate 1500] [--drain N]`
 *
 * Two builds of taskhook measured in one session, alternating run by run, so
 * a shared machine's changing speed hits both alike: a before/after that the
 * full bench (one build, figures from one hour to the next) cannot give.
 * Each revision is checked out in a temporary git worktree (sharing this
 * checkout's node_modules: compare revisions with the same dependencies),
 * compiled, and started as its own start commands start it (the worker with
 * the Node flags of `src/runtime/node-flags.ts` when that revision has them).
 * Per run: sustained callbacks/s and drain of a closed loop (50 connections),
 * CPU ms per task per process, Redis traffic per task (commands, socket
 * reads: counts, so exact whatever the machine's speed), the worker's garbage
 * collections per task (from its METRICS_PORT), submit → callback p50/p99 at a
 * paced rate, and worker RSS at the end. With `--drain N`, each run is
 * instead the worker alone working through N queued tasks (bench/lib/drain.ts):
 * worker, Redis and receiver CPU per task, closer than the closed loop reads them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createProcessGroup, logPath, rssMiB } from './lib/procs.js';
import { startRedisServer, freePort } from './lib/redis-server.js';
import { startReceiver } from './lib/receiver.js';
import { startLoadGenerator } from './lib/loadgen.js';
import { BENCH_API_KEY, productEnv, waitReady } from './lib/taskhook.js';
import { latency, meteredThroughput, warmUp } from './lib/phases.js';
import { gcMeter } from './lib/gc-meter.js';
import { aggregate, fmtAgg } from './lib/stats.js';
import { stealMeter } from './lib/cpu.js';
import { drainPhase } from './lib/drain.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: 'HEAD' },
    reps: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    rate: { type: 'string', default: '1500' },
    drain: { type: 'string' },
  },
});
if (!values.base) {
  process.stderr.write('usage: npm run bench:compare -- --base REV [--head REV] [--reps N] [--seconds S] [--rate R] [--drain TASKS]\n');
  process.exit(2);
}
const log = (m: string): void => void process.stderr.write(`${m}\n`);
const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

interface Build {
  name: string;
  rev: string;
  dir: string;
  workerFlags: string[];
}

const group = createProcessGroup();
const work = mkdtempSync(join(tmpdir(), 'taskhook-compare-'));
const logDir = join(work, 'logs');
mkdirSync(logDir, { recursive: true });
const builds: Build[] = [];
const cleanup = (): void => {
  group.killAllNow();
  for (const b of builds) {
    try {
      git('worktree', 'remove', '--force', b.dir);
    } catch {
      /* already gone */
    }
  }
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

async function prepare(name: string, rev: string): Promise<Build> {
  const sha = git('rev-parse', '--short', rev);
  const dir = join(work, name);
  git('worktree', 'add', '--detach', dir, sha);
  const b: Build = { name: `${name} (${sha})`, rev: sha, dir, workerFlags: [] };
  builds.push(b);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'ignore' });
  const flags = join(dir, 'dist', 'src', 'runtime', 'node-flags.js');
  if (existsSync(flags)) b.workerFlags = [...((await import(pathToFileURL(flags).href)) as { WORKER_NODE_FLAGS: string[] }).WORKER_NODE_FLAGS];
  return b;
}

async function main(): Promise<void> {
  const base = await prepare('base', values.base as string);
  const head = await prepare('head', values.head as string);
  log(`comparing ${base.name} with ${head.name}; ${values.reps} alternating runs each`);
  const redis = await startRedisServer({ group, dir: join(work, 'redis'), appendonly: false });
  const receiver = await startReceiver({ group, logDir, ports: 1 });
  const stats = redis.client();
  const load = await startLoadGenerator(group, logDir);
  const rows = new Map<string, Record<string, number[]>>(builds.map((b) => [b.name, {}]));
  /** Decimals each row is printed with, set where the row is added. */
  const digits = new Map<string, number>();
  const add = (b: Build, k: string, v: number, decimals = 0): void => {
    const r = rows.get(b.name) as Record<string, number[]>;
    (r[k] ??= []).push(v);
    digits.set(k, decimals);
  };

  /** Every run's settings: one API on `port`, one worker (50 at once) on the debug queue. */
  const runEnv = (port: number): Record<string, string> =>
    productEnv(redis.url, { WORKER_CONCURRENCY: '50', WORKER_QUEUES: 'debug', PORT: String(port), SHUTDOWN_GRACE_MS: '2000' });
  const drainRun = async (b: Build, name: string, tasks: number) =>
    drainPhase({
      group,
      logDir,
      name,
      redis,
      receiver,
      load,
      env: runEnv(await freePort()),
      tasks,
      apiScript: join(b.dir, 'dist/src/bin/api.js'),
      workerScript: join(b.dir, 'dist/src/bin/worker.js'),
      workerFlags: b.workerFlags,
    });
  if (values.drain) {
    // Not counted: the receiver and the load generator are fresh processes, and
    // their first thousands of requests run before the JIT has compiled them.
    await drainRun(base, 'warm-up', 5000);
    await redis.flushall();
  }

  for (let rep = 0; rep < Number(values.reps); rep++) {
    for (const b of rep % 2 === 0 ? [base, head] : [head, base]) {
      await redis.flushall();
      if (values.drain) {
        const d = await drainRun(b, `${b.rev}-${rep}`, Number(values.drain));
        add(b, 'drain: worker CPU ms/task', d.cpuMsPerTask.worker, 4);
        add(b, 'drain: Redis CPU ms/task', d.cpuMsPerTask.redis, 4);
        add(b, 'drain: receiver CPU ms/task', d.cpuMsPerTask.receiver, 4);
        add(b, 'drain: wall ms/task', d.wallMsPerTask, 4);
        log(`  run ${rep + 1} ${b.name}: worker ${d.cpuMsPerTask.worker.toFixed(4)} ms/task over ${d.tasks} tasks`);
        continue;
      }
      const port = await freePort();
      const env = runEnv(port);
      const api = group.node(join(b.dir, 'dist/src/bin/api.js'), { env, logFile: logPath(logDir, `${b.rev}-api-${rep}`), compiled: true });
      const url = `http://127.0.0.1:${port}`;
      await waitReady(url, api, 30_000);
      const metricsPort = await freePort();
      const workerEnv = { ...env, METRICS_PORT: String(metricsPort) };
      const worker = group.node(join(b.dir, 'dist/src/bin/worker.js'), { env: workerEnv, nodeArgs: b.workerFlags, logFile: logPath(logDir, `${b.rev}-worker-${rep}`), compiled: true });
      try {
        const t = { api: url, apiKey: BENCH_API_KEY, taskType: 'debug.echo', taskData: { n: 1 }, callbackUrls: [receiver.url(0)] };
        await warmUp(load, receiver, t, 2000);
        const gc = await gcMeter(`http://127.0.0.1:${metricsPort}/metrics`);
        const parts = { api: [api.pid], worker: [worker.pid], redis: [redis.pid()], 'load+receiver': [load.pid, receiver.pid] };
        const steal = stealMeter();
        const { throughput: tp, cpuMsPerTask: cpu, redis: rt } = await meteredThroughput(load, receiver, t, 50, Number(values.seconds) * 1000, parts, stats);
        const stealPct = steal.stop();
        const g = await gc.stop(tp.callbacks);
        const l = await latency(load, receiver, t, Number(values.rate), 5000, 15_000);
        add(b, 'callbacks/s', tp.callbacksPerSec);
        add(b, 'host CPU steal % (throughput phase)', stealPct);
        add(b, 'drain s', tp.drainSec, 1);
        for (const [k, v] of Object.entries(cpu)) add(b, `CPU ms/task ${k}`, v, 3);
        add(b, 'Redis commands/task (scripts included)', rt.commands, 1);
        add(b, 'Redis socket reads/task', rt.reads, 1);
        add(b, 'Redis bytes in/task', rt.bytesIn);
        add(b, 'Redis bytes out/task', rt.bytesOut);
        add(b, 'worker scavenges per 1,000 tasks', g.minorPerKTasks, 1);
        add(b, 'worker full GCs per 1,000 tasks', g.majorPerKTasks, 1);
        add(b, 'worker GC ms per task', g.msPerTask, 3);
        add(b, `p50 ms @${values.rate}/s`, l.submitToCallbackMs.p50);
        add(b, `p99 ms @${values.rate}/s`, l.submitToCallbackMs.p99);
        add(b, 'worker RSS MiB', rssMiB(worker.pid));
        log(`  run ${rep + 1} ${b.name}: ${Math.round(tp.callbacksPerSec)} callbacks/s, CPU ${cpu.total?.toFixed(3)} ms/task; Redis commands/task ${JSON.stringify(rt.top)}`);
      } finally {
        await Promise.all([group.stop(api, 'SIGTERM', 10_000), group.stop(worker, 'SIGTERM', 10_000)]);
      }
    }
  }

  const keys = Object.keys(rows.get(base.name) ?? {});
  const lines = [`| measure (median, min–max of ${values.reps}) | ${base.name} | ${head.name} |`, '| --- | --- | --- |'];
  for (const k of keys) {
    const cell = (b: Build) => fmtAgg(aggregate(rows.get(b.name)?.[k] ?? []), digits.get(k) ?? 0);
    lines.push(`| ${k} | ${cell(base)} | ${cell(head)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
