/**
 * Starts the product's own entry points (`src/bin/api.ts`, `src/bin/worker.ts`)
 * as separate processes, configured only through the environment, exactly as
 * an operator would run them.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { logPath, type ProcessGroup } from './procs.js';

export const BENCH_API_KEY = 'bench-key';
export const BENCH_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

let root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs the product from a frozen copy of src/ and tasks/ (node_modules
 * linked), so edits made to the working tree while a long bench runs cannot
 * change or break the code under test half-way, compiled to JavaScript with
 * `npm run build` (what a production deployment runs: no TypeScript loader in
 * the measured processes). Returns the copy's path.
 */
export function snapshotProduct(into: string): string {
  const live = fileURLToPath(new URL('../../', import.meta.url));
  mkdirSync(into, { recursive: true });
  for (const entry of ['src', 'tasks', 'scripts']) cpSync(join(live, entry), join(into, entry), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(live, file), join(into, file));
  symlinkSync(join(live, 'node_modules'), join(into, 'node_modules'), 'dir');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: into, stdio: 'ignore' });
  root = into;
  compiled = true;
  return into;
}

let compiled = false;
const API = (): string => (compiled ? join(root, 'dist', 'src', 'bin', 'api.js') : join(root, 'src', 'bin', 'api.ts'));
const WORKER = (): string => (compiled ? join(root, 'dist', 'src', 'bin', 'worker.js') : join(root, 'src', 'bin', 'worker.ts'));

let overrides: Record<string, string> = {};

/** Settings given on the command line (`--env KEY=VALUE`); they win over everything. */
export function setEnvOverrides(env: Record<string, string>): void {
  overrides = { ...env };
}

/** The environment every bench process shares; `extra` wins, command-line overrides win over both. */
export function productEnv(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    REDIS_URL: redisUrl,
    API_KEYS: BENCH_API_KEY,
    WEBHOOK_SECRET: BENCH_SECRET,
    CALLBACK_ALLOWLIST: '127.0.0.0/8',
    // The bench is one tenant sending thousands of requests a second.
    RATE_LIMIT_PER_MIN: '0',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    ...extra,
    ...overrides,
  };
}

export interface ProcOptions {
  group: ProcessGroup;
  logDir: string;
  /** Log file name and CPU profile name. */
  name: string;
  env: Record<string, string>;
  /** Write V8 CPU profiles (one per thread) into `<cpuProfDir>/<name>/` at exit. */
  cpuProfDir?: string;
}

function profArgs(opts: ProcOptions): string[] {
  // No --cpu-prof-name: tsx's loader hooks run on a second thread, which
  // writes its own profile; default names carry the thread id, so neither
  // overwrites the other (see mainThreadProfile).
  return opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfDir, opts.name)] : [];
}

export interface ApiProc {
  proc: ChildProcess;
  url: string;
}

/** Starts an API process on `env.PORT` and waits until /readyz answers 200. */
export async function startApi(opts: ProcOptions, timeoutMs = 30_000): Promise<ApiProc> {
  const proc = opts.group.node(API(), { env: opts.env, nodeArgs: profArgs(opts), logFile: logPath(opts.logDir, opts.name), compiled });
  const url = `http://127.0.0.1:${opts.env.PORT}`;
  await waitReady(url, proc, timeoutMs, logPath(opts.logDir, opts.name));
  return { proc, url };
}

export async function waitReady(url: string, proc: ChildProcess | null, timeoutMs: number, log = ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) throw new Error(`API exited at start-up; see ${log}`);
    try {
      const res = await request(`${url}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`API at ${url} not ready within ${timeoutMs} ms; see ${log}`);
    await sleep(50);
  }
}

/** Starts a worker process (readiness is the caller's business: e.g. a warm-up task). */
export function startWorker(opts: ProcOptions): ChildProcess {
  return opts.group.node(WORKER(), { env: opts.env, nodeArgs: profArgs(opts), logFile: logPath(opts.logDir, opts.name), compiled });
}

/** The main thread's profile in a --cpu-prof dir (`CPU.<date>.<time>.<pid>.<tid 0>.<seq>.cpuprofile`). */
export function mainThreadProfile(dir: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const main = names.find((n) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(n));
  return main ? join(dir, main) : null;
}
