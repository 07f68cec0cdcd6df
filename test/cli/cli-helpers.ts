/**
 * Running the `taskhook` CLI in tests: in-process with captured streams, or
 * as a real child process through bin/taskhook.js (so the launcher is tested).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';

export const BIN = fileURLToPath(new URL('../../bin/taskhook.js', import.meta.url));

export interface MemoryIo {
  io: CliIo;
  out(): string;
  err(): string;
  /** Resolves `io.interrupted()` (what Ctrl-C does in the binary). */
  interrupt(): void;
}

export function memoryIo(env: Record<string, string | undefined> = {}, tty = false): MemoryIo {
  let out = '';
  let err = '';
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    io: {
      stdout: { write: (c: string) => (out += c), isTTY: tty },
      stderr: { write: (c: string) => (err += c), isTTY: tty },
      env,
      interrupted: () => stopped,
    },
    out: () => out,
    err: () => err,
    interrupt: () => stop(),
  };
}

/** The environment a spawned CLI gets: none of the machine's taskhook settings leak in. */
export function cliEnv(env: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k] as string;
  return { ...base, NODE_ENV: 'test', LOG_LEVEL: 'error', ...env };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node bin/taskhook.js …` from a directory other than the repo (the launcher must not care). */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: '/', env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the CLI to its exit. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliRun> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`taskhook ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface LiveCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with everything seen on `stream` once `pred` holds for it. */
  waitFor(stream: 'stdout' | 'stderr', pred: (text: string) => boolean, timeoutMs?: number): Promise<string>;
}

/** Spawns a long-running command and records its output from the first byte. */
export function startCli(args: string[], env: Record<string, string> = {}): LiveCli {
  const child = spawnCli(args, env);
  const seen = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  const on = (stream: 'stdout' | 'stderr') => (c: Buffer): void => {
    seen[stream] += c.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', on('stdout'));
  child.stderr?.on('data', on('stderr'));
  return {
    child,
    stdout: () => seen.stdout,
    stderr: () => seen.stderr,
    waitFor(stream, pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pred(seen[stream])) return;
          clearTimeout(t);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(seen[stream]);
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting on ${stream}; stdout:\n${seen.stdout}\nstderr:\n${seen.stderr}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}

/** Stops a spawned CLI with SIGINT and waits for it to exit. */
export function stopCli(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}
