/**
 * `taskhook top`: a live view of the queues, the worker processes and the
 * callback outbox, refreshed every second (plain ANSI, no dependencies).
 * `--once` prints one snapshot and exits (scripts, tests); `--json` prints it
 * as JSON.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { parseConfig } from '../config.js';
import { coerceError } from '../errors.js';
import { createKeys, type Keys } from '../store/keys.js';
import { connectRedis } from '../runtime/redis.js';
import { readTop, type TopSnapshot } from './top-data.js';
import { EXIT_FAILED, EXIT_OK, intFlag, parseFlags, type CliIo } from './io.js';
import { TIMED_OUT, within } from '../within.js';

export const TOP_HELP = `Usage: taskhook top [options]

Shows, per queue: tasks waiting, active, delayed and failed, how long the
task next in line has been queued, tasks settled per minute and busy/total
worker slots; then one row per live worker process (from its heartbeat) and
the callbacks pending and failing (pending after a failed attempt). Reads
Redis directly. When Redis does not answer a refresh within 2 s, says so
instead of the tables (--once: exit 1).

Options:
  --once               print one snapshot and exit
  --json               with --once: print the snapshot as JSON
  --interval MS        refresh interval (default 1000)
  --redis-url URL      Redis (env REDIS_URL, default redis://127.0.0.1:6379)
  --prefix P           key prefix (env REDIS_PREFIX, default th)
  -h, --help           this help

Stop with Ctrl-C.
`;

/** Longest one refresh may wait for Redis before top reports it unreachable. */
export const TOP_READ_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 3000;

export async function runTop(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    once: { type: 'boolean' },
    json: { type: 'boolean' },
    interval: { type: 'string' },
    'redis-url': { type: 'string' },
    prefix: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(TOP_HELP);
    return EXIT_OK;
  }
  const intervalMs = values.interval === undefined ? 1000 : intFlag('interval', values.interval, 100, 3_600_000);
  // Only the two settings top needs, through the one schema (defaults, validation), without the server's production checks.
  const config = parseConfig({ REDIS_URL: values['redis-url'] ?? io.env.REDIS_URL, REDIS_PREFIX: values.prefix ?? io.env.REDIS_PREFIX });
  const keys = createKeys(config.REDIS_PREFIX);
  const where = redisHost(config.REDIS_URL);
  const redis = await connectTopClient(config.REDIS_URL);
  try {
    if (values.once) {
      const got = await refresh(redis, keys);
      if (!got.ok) {
        io.stderr.write(`taskhook: Redis unreachable at ${where}: ${got.reason}.\n`);
        return EXIT_FAILED;
      }
      io.stdout.write(values.json ? `${JSON.stringify(got.snapshot)}\n` : renderTop(got.snapshot));
      return EXIT_OK;
    }
    const live = io.stdout.isTTY === true;
    // Ctrl-C ends the loop at once, even in the middle of a refresh.
    const interrupted = io.interrupted().then(() => null);
    let lastGood: number | null = null;
    for (;;) {
      const got = await Promise.race([interrupted, refresh(redis, keys)]);
      if (got === null) break;
      if (got.ok) lastGood = got.snapshot.at;
      const text = got.ok ? renderTop(got.snapshot) : renderUnreachable(Date.now(), where, got.reason, lastGood, intervalMs);
      // Clear and home on a terminal; plain snapshots separated by a blank line otherwise.
      io.stdout.write(live ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
      const waited = await Promise.race([interrupted, new Promise<true>((r) => setTimeout(() => r(true), intervalMs).unref())]);
      if (waited === null) break;
    }
    return EXIT_OK;
  } finally {
    // No QUIT: it would wait for a Redis that may not answer, and top holds nothing to flush.
    redis.disconnect();
  }
}

/**
 * top's own client, unlike the servers' (whose commands wait for Redis to come
 * back, however long): a read while disconnected fails at once, an unanswered
 * one after TOP_READ_TIMEOUT_MS, and the client keeps reconnecting in the
 * background, so each refresh either shows fresh numbers or says Redis is
 * unreachable. Never a stale screen that looks healthy.
 */
function connectTopClient(url: string): Promise<Redis> {
  // Each refresh reports what it could not read (connectRedis keeps an 'error' listener).
  return connectRedis(url, CONNECT_TIMEOUT_MS, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: TOP_READ_TIMEOUT_MS,
    retryStrategy: (n: number) => Math.min(100 * 2 ** n, 1000),
    enableAutoPipelining: false,
  });
}

type Refresh = { ok: true; snapshot: TopSnapshot } | { ok: false; reason: string };

/** One snapshot, or why Redis did not give one within TOP_READ_TIMEOUT_MS (a snapshot takes several round trips). Never rejects. */
async function refresh(redis: Redis, keys: Keys): Promise<Refresh> {
  if (redis.status !== 'ready') return { ok: false, reason: `not connected (${redis.status})` };
  // Started a microtask late, so our deadline's timer is set before the
  // client's equal command timeout and a hung read says "no answer within".
  const read = Promise.resolve().then(() => readTop(redis, keys)).then(
    (snapshot): Refresh => ({ ok: true, snapshot }),
    (err: unknown): Refresh => ({ ok: false, reason: redis.status === 'ready' ? coerceError(err).message : `not connected (${redis.status})` }),
  );
  const got = await within(read, TOP_READ_TIMEOUT_MS);
  return got === TIMED_OUT ? { ok: false, reason: `no answer within ${TOP_READ_TIMEOUT_MS} ms` } : got;
}

/** `host:port` of a Redis URL, without its credentials. */
function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'Redis';
  }
}

function utcTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** The frame shown instead of the tables while Redis does not answer. Pure. */
export function renderUnreachable(now: number, where: string, reason: string, lastGood: number | null, intervalMs: number): string {
  return [
    `taskhook top — ${utcTime(now)} UTC on ${hostname()}`,
    '',
    `Redis unreachable at ${where}: ${reason}.`,
    lastGood === null ? 'No snapshot read yet.' : `Last snapshot read at ${utcTime(lastGood)} UTC; nothing is shown until Redis answers again.`,
    `Retrying every ${intervalMs} ms. Ctrl-C to stop.`,
    '',
  ].join('\n');
}

/** The snapshot as text tables. Pure. */
export function renderTop(s: TopSnapshot): string {
  const out: string[] = [];
  out.push(`taskhook top — ${utcTime(s.at)} UTC on ${hostname()}`, '');
  out.push(
    ...table(
      ['QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'OLDEST', 'DONE/MIN', 'SLOTS'],
      s.queues.map((q) => [
        q.queue,
        String(q.waiting),
        String(q.active),
        String(q.delayed),
        String(q.failed),
        q.oldestWaitingMs === null ? '-' : age(q.oldestWaitingMs),
        q.perMinute === null ? '-' : String(q.perMinute),
        `${q.active}/${q.slots}`,
      ]),
    ),
    '',
  );
  if (s.workers.length === 0) {
    out.push('no live workers (no heartbeat in the last 15 s)');
  } else {
    out.push(
      ...table(
        ['WORKER', 'QUEUES', 'BUSY', 'DONE', 'DONE/MIN', 'UP', 'BEAT'],
        s.workers.map((w) => [
          w.id,
          w.queues.join(','),
          `${w.busy}/${w.concurrency * w.queues.length}`,
          String(sum(w.done)),
          String(sum(w.rate)),
          age(s.at - w.started),
          `${age(s.at - w.heartbeat)} ago`,
        ]),
      ),
    );
  }
  const c = s.callbacks;
  const sampled = c.sampled < c.pending ? ` (of the ${c.sampled} due soonest)` : '';
  out.push('', `callbacks: ${c.pending} pending, ${c.failing} failing${sampled}`, '');
  return out.join('\n');
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** `850ms`, `12s`, `4m05s`, `3h12m`, `2d04h`. */
export function age(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)}ms`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Left-aligned first column, right-aligned numbers. */
function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}
