/**
 * Every process a bench or chaos run starts goes through one group, so all of
 * them are stopped on success, failure, Ctrl-C or an uncaught error. Children
 * log to files (never to an undrained pipe, which would block them).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Extra node flags (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** File that receives stdout and stderr. */
  logFile: string;
  /** Open an IPC channel (for bench helper processes). */
  ipc?: boolean;
  /** The script is compiled JavaScript: run it with plain `node` (no tsx loader). */
  compiled?: boolean;
}

export interface ProcessGroup {
  /** `node --import tsx <script>` (plain `node` when `compiled`) with the group's cleanup. */
  node(script: string, opts: SpawnOptions): ChildProcess;
  /** Any executable (redis-server). */
  exec(cmd: string, args: string[], logFile: string): ChildProcess;
  /** Sends `signal` and waits (bounded) for the exit; SIGKILL after `graceMs`. */
  stop(child: ChildProcess, signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Stops everything still running (SIGTERM, then SIGKILL). */
  stopAll(graceMs?: number): Promise<void>;
  /** Synchronous last resort (process 'exit'). */
  killAllNow(): void;
}

const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

export function createProcessGroup(): ProcessGroup {
  const children = new Set<ChildProcess>();
  const track = (c: ChildProcess): ChildProcess => {
    children.add(c);
    c.on('error', () => undefined);
    c.once('exit', () => children.delete(c));
    return c;
  };
  const withLog = <T>(logFile: string, f: (fd: number) => T): T => {
    const fd = openSync(logFile, 'a');
    try {
      return f(fd);
    } finally {
      closeSync(fd); // the child holds its own copy
    }
  };

  const group: ProcessGroup = {
    node(script, opts) {
      return withLog(opts.logFile, (fd) => {
        const env = { ...process.env, ...opts.env };
        const execArgv = [...(opts.compiled ? [] : ['--import', 'tsx']), ...(opts.nodeArgs ?? [])];
        if (opts.ipc) {
          return track(fork(script, opts.args ?? [], { env, execArgv, stdio: ['ignore', fd, fd, 'ipc'] }));
        }
        return track(spawn(process.execPath, [...execArgv, script, ...(opts.args ?? [])], { env, stdio: ['ignore', fd, fd] }));
      });
    },
    exec(cmd, args, logFile) {
      return withLog(logFile, (fd) => track(spawn(cmd, args, { stdio: ['ignore', fd, fd] })));
    },
    async stop(child, signal = 'SIGTERM', graceMs = 10_000) {
      if (!alive(child)) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async stopAll(graceMs = 5000) {
      await Promise.all([...children].map((c) => group.stop(c, 'SIGTERM', graceMs)));
    },
    killAllNow() {
      for (const c of children) if (alive(c)) c.kill('SIGKILL');
    },
  };
  return group;
}

/** Resident set size of a process, in MiB (Linux /proc). NaN when unreadable. */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resolves when `file` contains `text`; rejects after `timeoutMs` or when `child` exits first. */
export async function waitForLog(file: string, text: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let seen = '';
    try {
      seen = readFileSync(file, 'utf8');
    } catch {
      /* not yet written */
    }
    if (seen.includes(text)) return;
    if (child && !alive(child)) throw new Error(`process exited before logging "${text}"; see ${file}:\n${seen.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear in ${file} within ${timeoutMs} ms:\n${seen.slice(-2000)}`);
    await sleep(50);
  }
}

/** Path of a log file for `name` in `dir`. */
export function logPath(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}
