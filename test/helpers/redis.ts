/**
 * A private redis-server per test file, on a free port, in a temp dir.
 * Never touches the machine's shared 6379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitForRedis } from '../../src/runtime/redis.js';

export interface TestRedis {
  url: string;
  port: number;
  /** A fresh client (caller quits it). */
  client(): Redis;
  flush(): Promise<void>;
  /** Stops the server (SIGTERM; with AOF the data survives a restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port and dir. */
  start(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisOptions {
  appendonly?: boolean;
  extraArgs?: string[];
}

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskhook-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', '',
    ...(options.extraArgs ?? []),
  ];

  const start = async (): Promise<void> => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    let spawnError: Error | null = null;
    child.on('error', (err) => (spawnError = err));
    proc = child;
    await waitForRedis(url, 10_000, () =>
      spawnError ? `redis-server could not start (${spawnError.message}); is it installed?` : child.exitCode === null ? null : `redis-server exited (${child.exitCode})`,
    );
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };

  await start();
  return {
    url,
    port,
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }),
    async flush() {
      const c = new Redis(url);
      await c.flushall();
      c.disconnect();
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
