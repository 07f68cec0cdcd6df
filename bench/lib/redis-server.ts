/**
 * A private redis-server for a bench or chaos run: 127.0.0.1, a free port
 * (never 6379), its own directory; it can be stopped and started again on
 * the same port and directory (AOF replay).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RECOMMENDED_HASH_MAX_VALUE, waitForRedis } from '../../src/runtime/redis.js';
import type { ProcessGroup } from './procs.js';

export interface RedisServerOptions {
  group: ProcessGroup;
  /** Directory for the AOF and the log. */
  dir: string;
  /** `appendonly yes` + `appendfsync everysec`. @default false */
  appendonly?: boolean;
}

export interface RedisServer {
  url: string;
  port: number;
  pid(): number | undefined;
  /** A client that fails fast (for measurements, not for the product). */
  client(): Redis;
  /** `INFO memory` used_memory, in bytes. */
  usedMemory(): Promise<number>;
  flushall(): Promise<void>;
  /** Stops with SIGTERM (Redis then fsyncs the AOF and exits cleanly). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 6379) return port;
  }
}

export function redisVersion(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

export async function startRedisServer(opts: RedisServerOptions): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  mkdirSync(opts.dir, { recursive: true });
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dir, '--save', '',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', '',
    // As taskhook's own Redis and docs/operations.md recommend (smaller deliveries).
    '--hash-max-ziplist-value', String(RECOMMENDED_HASH_MAX_VALUE),
  ];
  let proc: ChildProcess | null = null;
  const log = join(opts.dir, 'redis.log');
  const client = (): Redis => {
    const c = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    return c;
  };

  const start = async (): Promise<void> => {
    const child = opts.group.exec('redis-server', args, log);
    proc = child;
    await waitForRedis(url, 15_000, () => (child.exitCode === null ? null : `redis-server exited (code ${child.exitCode}); see ${log}`));
  };

  await start();
  return {
    url,
    port,
    pid: () => proc?.pid,
    client,
    async usedMemory() {
      const c = client();
      try {
        const info = await c.info('memory');
        return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
      } finally {
        c.disconnect();
      }
    },
    async flushall() {
      const c = client();
      try {
        await c.flushall();
      } finally {
        c.disconnect();
      }
    },
    async stop() {
      const p = proc;
      proc = null;
      if (p) await opts.group.stop(p, 'SIGTERM', 15_000);
    },
    start,
  };
}
