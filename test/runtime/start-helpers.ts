/**
 * Running `npm start` (`node --import tsx src/bin/start.ts`) as a real
 * process in a temp working directory (so its private Redis keeps its data in
 * that directory's ./data/redis and no .env is read), and finding the
 * redis-server processes it leaves.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const TSX = import.meta.resolve('tsx');
const BIN_DIR = fileURLToPath(new URL('../../src/bin/', import.meta.url));

export interface Started {
  child: ChildProcess;
  cwd: string;
  output(): string;
  /** Resolves once `pred` holds for stdout + stderr. */
  waitFor(pred: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Exit code (or the signal's name) and how long after `since` it came. */
  exited(since?: number, timeoutMs?: number): Promise<{ code: number | string | null; ms: number }>;
  /** Kills it if it still runs and removes its working directory. */
  cleanup(): void;
}

/**
 * Spawns `src/bin/<script>` in its own process group (so a test can send a
 * signal to the whole group, as a terminal's Ctrl-C does), with only the
 * given settings in its environment.
 */
export function spawnBin(script: 'start.ts' | 'worker.ts' | 'api.ts', env: Record<string, string>, args: string[] = []): Started {
  const cwd = mkdtempSync(join(tmpdir(), 'taskhook-start-'));
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k] as string;
  const child = spawn(process.execPath, ['--import', TSX, join(BIN_DIR, script), ...args], {
    cwd,
    env: { ...base, NODE_ENV: 'development', LOG_LEVEL: 'info', HOST: '127.0.0.1', WORKER_QUEUES: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let seen = '';
  const waiters = new Set<() => void>();
  const on = (c: Buffer): void => {
    seen += c.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  const exit = new Promise<{ code: number | string | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code: code ?? signal, at: Date.now() }));
  });
  return {
    child,
    cwd,
    output: () => seen,
    waitFor(pred, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pred(seen)) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve(seen);
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for output; got:\n${seen}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async exited(since = Date.now(), timeoutMs = 40_000) {
      const r = await Promise.race([exit, sleep(timeoutMs).then(() => null)]);
      if (r === null) throw new Error(`${script} did not exit within ${timeoutMs} ms; output:\n${seen}`);
      return { code: r.code, ms: r.at - since };
    },
    cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/**
 * Pids of redis-server processes for `port`: running (it names itself
 * `redis-server host:port`) or still starting (its command line, or that of
 * the setpriv or shell that will exec it, says `--port <port>`).
 */
export function redisServersOn(port: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-af', 'redis-server'], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  const forPort = new RegExp(`(:|--port )${port}\\b`);
  return out
    .split('\n')
    .filter((line) => forPort.test(line))
    .map((line) => Number(line.split(' ')[0]));
}

/** Waits (bounded) until no redis-server listens on `port`; returns the pids still there. */
export async function redisGoneFrom(port: number, timeoutMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = redisServersOn(port);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = redisServersOn(port);
  }
  return left;
}

/** Test cleanup: SIGKILLs what a failed test left on `port` (a fresh port: only our own servers). */
export function killRedisOn(port: number): void {
  if (port === 6379) throw new Error('never touch the shared Redis on 6379');
  for (const pid of redisServersOn(port)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
