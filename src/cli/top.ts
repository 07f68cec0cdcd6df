/**
 * `taskhook top`: a live view of the queues, the worker processes and the
 * callback outbox, refreshed every second (plain ANSI, no dependencies).
 * `--once` prints one snapshot and exits (scripts, tests); `--json` prints it
 * as JSON.
 */
import { hostname } from 'node:os';
import { parseConfig } from '../config.js';
import { createKeys } from '../store/keys.js';
import { closeRedis, connectRedis } from '../runtime/redis.js';
import { readTop, type TopSnapshot } from './top-data.js';
import { EXIT_OK, intFlag, parseFlags, type CliIo } from './io.js';

export const TOP_HELP = `Usage: taskhook top [options]

Shows, per queue: tasks waiting, active, delayed and failed, the age of the
oldest waiting task, tasks settled per minute and busy/total worker slots;
then one row per live worker process (from its heartbeat) and the callbacks
pending and failing (pending after a failed attempt). Reads Redis directly.

Options:
  --once               print one snapshot and exit
  --json               with --once: print the snapshot as JSON
  --interval MS        refresh interval (default 1000)
  --redis-url URL      Redis (env REDIS_URL, default redis://127.0.0.1:6379)
  --prefix P           key prefix (env REDIS_PREFIX, default th)
  -h, --help           this help

Stop with Ctrl-C.
`;

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
  const redis = await connectRedis(config.REDIS_URL);
  try {
    if (values.once) {
      const snap = await readTop(redis, keys);
      io.stdout.write(values.json ? `${JSON.stringify(snap)}\n` : renderTop(snap));
      return EXIT_OK;
    }
    const live = io.stdout.isTTY === true;
    let stop = false;
    const interrupted = io.interrupted().then(() => {
      stop = true;
    });
    while (!stop) {
      const text = renderTop(await readTop(redis, keys));
      // Clear and home on a terminal; plain snapshots separated by a blank line otherwise.
      io.stdout.write(live ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
      await Promise.race([interrupted, new Promise((r) => setTimeout(r, intervalMs).unref())]);
    }
    return EXIT_OK;
  } finally {
    await closeRedis(redis);
  }
}

/** The snapshot as text tables. Pure. */
export function renderTop(s: TopSnapshot): string {
  const out: string[] = [];
  out.push(`taskhook top — ${new Date(s.at).toISOString().slice(0, 19).replace('T', ' ')} UTC on ${hostname()}`, '');
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
