/**
 * For `npm start` on a laptop: when nothing answers at a local REDIS_URL and
 * `redis-server` is installed, run a private one (AOF on, noeviction) in
 * ./data/redis for the life of the process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { waitForRedis } from './redis.js';

export function isLocalRedisUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts redis-server for `url` and waits until it answers; the caller stops it. */
export async function startLocalRedis(url: string, dataDir: string): Promise<ChildProcess> {
  const u = new URL(url);
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    ['--port', u.port || '6379', '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  try {
    await waitForRedis(url, 10_000, () => (child.exitCode === null ? null : `redis-server exited with code ${child.exitCode}`));
    return child;
  } catch (err) {
    child.kill();
    throw err;
  }
}
