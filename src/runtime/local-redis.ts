/**
 * For `npm start` on a laptop: when nothing answers at a local REDIS_URL and
 * `redis-server` is installed, run a private one (AOF on, noeviction) in
 * ./data/redis for the life of the process, and never longer:
 *
 * - it runs in its own process group (`detached`), so a terminal's Ctrl-C
 *   reaches only taskhook, whose drain still needs Redis to hand running
 *   tasks back, and stops it last;
 * - whichever way taskhook exits (a start-up failure, a second signal, a
 *   stuck drain), an 'exit' handler kills it;
 * - on Linux the kernel kills it when taskhook itself is SIGKILLed
 *   (`setpriv --pdeathsig`, as for ffmpeg; see media/death-signal.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DependencyError, coerceError } from '../errors.js';
import { withDeathSignal } from '../media/death-signal.js';
import { RECOMMENDED_HASH_MAX_VALUE, waitForRedis } from './redis.js';
import { localRedisHost, maskRedisUrl } from './redis-url.js';

/** How long a just-started redis-server may take to answer (it replays its AOF first). */
const READY_TIMEOUT_MS = 10_000;
/** How long a stopping redis-server may take to write its AOF and exit before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** The end of its log that is kept, to say why it could not start. */
const LOG_TAIL_BYTES = 4_096;

export function isLocalRedisUrl(url: string): boolean {
  return localRedisHost(url) !== null;
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface LocalRedis {
  /** Resolves once it answers PING; rejects with a DependencyError (`redis_start_failed`) if it exits or stays silent. */
  ready(): Promise<void>;
  /** SIGTERM (it writes its AOF and exits), SIGKILL if it is still there after 5 s; resolves once it is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns redis-server for `url` (a local one: see isLocalRedisUrl), listening
 * on the address the URL names. Returns at once: register `stop` before
 * awaiting `ready`, so a signal during start-up stops it too.
 */
export async function spawnLocalRedis(url: string, dataDir: string): Promise<LocalRedis> {
  const u = new URL(url);
  const port = u.port || '6379';
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  // hash-max-ziplist-value: the name every Redis since 2.6 takes (7 calls it hash-max-listpack-value).
  const args = [
    '--port', port, '--bind', localRedisHost(url) ?? '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction',
    '--hash-max-ziplist-value', String(RECOMMENDED_HASH_MAX_VALUE),
  ];
  const cmd = await withDeathSignal('redis-server', args);
  const child = spawn(cmd.bin, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });

  // Its log goes to stdout; the tail says why it could not start (port taken, bad dir).
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-LOG_TAIL_BYTES);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let spawnError: string | null = null;
  child.on('error', (err) => (spawnError = err.message));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;

  // The last resort; process.kill is synchronous, so it works in an 'exit' handler.
  const killAtExit = (): void => {
    if (!gone()) child.kill('SIGTERM');
  };
  process.on('exit', killAtExit);
  void exited.then(() => process.off('exit', killAtExit));

  let stopping: Promise<void> | null = null;
  return {
    async ready() {
      try {
        await waitForRedis(url, READY_TIMEOUT_MS, () => {
          if (spawnError !== null) return `it could not be started (${spawnError})`;
          return gone() ? `it exited with code ${child.exitCode ?? child.signalCode}` : null;
        });
      } catch (err) {
        const said = lastWarnings(tail);
        throw new DependencyError(
          'redis_start_failed',
          `Could not start a local redis-server for ${maskRedisUrl(url)}: ${coerceError(err).message}${said ? ` ("${said}")` : ''}. ` +
            'Remove the cause, or point REDIS_URL at a running Redis.',
          err,
        );
      }
    },
    stop() {
      stopping ??= (async () => {
        if (gone() || child.pid === undefined) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * What redis-server last warned about (its `#` lines), without the
 * `pid:role date time #` prefix: the cause and then "aborting".
 */
function lastWarnings(log: string): string {
  const warnings = log
    .split('\n')
    .map((line) => /^\d+:[A-Z] .*? # (.*)$/.exec(line.trim())?.[1])
    .filter((w): w is string => w !== undefined && w !== 'Configuration loaded');
  return warnings.slice(-2).join('; ').slice(0, 300);
}
