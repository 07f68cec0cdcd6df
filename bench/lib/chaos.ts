/**
 * The chaos run shared by `npm run chaos` and test/chaos/chaos.test.ts:
 * submits debug.echo / debug.sleep tasks with callbacks while it SIGKILLs
 * workers, restarts Redis (AOF on), kills and restarts the API, and makes
 * the receiver fail or vanish; then judges, from the receiver's own log and
 * the API, whether every accepted task ended and was called back.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { pace } from './pacer.js';
import { createProcessGroup, waitForLog, logPath, type ProcessGroup } from './procs.js';
import { startReceiver, type ReceiverHandle } from './receiver.js';
import type { ReceiverLogLine } from './receiver-protocol.js';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';
import { BENCH_API_KEY, productEnv, startApi, startWorker, waitReady, type ApiProc } from './taskhook.js';

export interface ChaosOptions {
  /** Tasks to submit (accepted ones are judged). */
  tasks: number;
  /** Paced submissions per second. */
  rate: number;
  /** Worker processes kept running (≥ 2 stay up while one restarts). @default 3 */
  workers?: number;
  /** Concurrency per worker. @default 16 */
  concurrency?: number;
  /** SIGKILL a worker (and start a new one) this often. @default 2000 */
  killEveryMs?: number;
  /** At most this many worker kills. @default unlimited */
  maxWorkerKills?: number;
  /** When to restart Redis, as a fraction of the submission phase; null = never. @default 0.4 */
  redisRestartAt?: number | null;
  /** When to kill and restart the API; null = never. @default 0.6 */
  apiRestartAt?: number | null;
  /** Share of callback requests answered 500 or dropped while chaos lasts. @default 0.3 */
  receiverFailRate?: number;
  /** Receiver fully down for this long; 0 = never. @default 5000 */
  receiverOutageMs?: number;
  /** When the receiver goes down. @default 0.7 */
  receiverOutageAt?: number;
  /** Longest wait for the last callback after chaos ends. @default 120000 */
  drainTimeoutMs?: number;
  /** Keep logs and data (also kept on failure). @default false */
  keepFiles?: boolean;
  log?(msg: string): void;
}

export interface ChaosReport {
  ok: boolean;
  submitted: number;
  accepted: number;
  /** Submit attempts repeated after a connection error or 5xx. */
  submitRetries: number;
  /** Submits that never got a 202 within their deadline. */
  neverAccepted: number;
  events: { atMs: number; what: string }[];
  workerKills: number;
  outcomes: Record<string, number>;
  /** Accepted tasks with no terminal callback answered 200 (the number that must be 0). */
  lost: string[];
  /** Accepted tasks the API does not show as completed/failed with a delivered callback. */
  notFinished: { task_id: string; status: string; callback: string }[];
  /** Every task record in Redis (accepted or not) by status. */
  recordsByStatus: Record<string, number>;
  requests: { total: number; ok: number; err500: number; dropped: number };
  /** webhook-ids answered 200 more than once (the receiver must deduplicate these). */
  duplicateDeliveries: number;
  /** Accepted tasks called back under more than one webhook-id. */
  tasksWithSeveralMessageIds: number;
  /** Callbacks for task ids the client never saw accepted (a submit queued twice: its answer lost and not replayed). */
  callbacksForUnacknowledgedTasks: number;
  /** From the end of the last disruption to the last accepted task's first 200. */
  drainMs: number;
  elapsedMs: number;
  workDir: string;
}

interface Ctx {
  group: ProcessGroup;
  logDir: string;
  redis: RedisServer;
  env: Record<string, string>;
  t0: number;
  events: { atMs: number; what: string }[];
  log(msg: string): void;
}

function note(c: Ctx, what: string): void {
  const atMs = Date.now() - c.t0;
  c.events.push({ atMs, what });
  c.log(`  [${(atMs / 1000).toFixed(1)} s] ${what}`);
}

let workerSeq = 0;
function newWorker(c: Ctx): ChildProcess {
  workerSeq += 1;
  return startWorker({ group: c.group, logDir: c.logDir, name: `worker${workerSeq}`, env: c.env });
}

/**
 * Submits one task until it is accepted (retrying connection errors, 5xx and
 * 409) or its deadline passes. Every retry carries the same Idempotency-Key,
 * as a careful client's would: a submit whose answer was lost (the API killed
 * after queuing it) is answered from the stored reply, not queued again, and
 * one whose API died before queuing answers 409 until its claim's lock expires.
 */
async function submitOne(pool: Pool, body: string, key: string, deadline: number, onRetry: () => void): Promise<string | null> {
  for (;;) {
    try {
      const res = await pool.request({
        path: '/api/v1/tasks',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY, 'idempotency-key': key },
        body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      if (res.statusCode === 202) return (JSON.parse(text) as { task_id: string }).task_id;
      if (res.statusCode < 500 && res.statusCode !== 429 && res.statusCode !== 409) throw new Error(`submit refused: ${res.statusCode} ${text}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('submit refused')) throw err;
      // Connection refused/reset while the API or Redis restarts: try again.
    }
    if (Date.now() > deadline) return null;
    onRetry();
    await sleep(100);
  }
}

async function getJson(pool: Pool, path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await pool.request({ path, method: 'GET', headers: { 'x-api-key': BENCH_API_KEY } });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function countRecords(redis: RedisServer): Promise<Record<string, number>> {
  const c = redis.client();
  const out: Record<string, number> = {};
  try {
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', 'th:task:*', 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        const p = c.pipeline();
        for (const k of keys) p.hget(k, 'status');
        for (const [, s] of (await p.exec()) ?? []) out[String(s)] = (out[String(s)] ?? 0) + 1;
      }
    } while (cursor !== '0');
  } finally {
    c.disconnect();
  }
  return out;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  const workDir = mkdtempSync(join(tmpdir(), 'taskhook-chaos-'));
  const logDir = join(workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const group = createProcessGroup();
  const started = Date.now();
  let ok = false;
  // Ctrl-C must not leave redis-server, workers or the API behind.
  const onSignal = (): void => {
    group.killAllNow();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const redis = await startRedisServer({ group, dir: join(workDir, 'redis'), appendonly: true });
    const requestLog = join(workDir, 'receiver.jsonl');
    const receiver: ReceiverHandle = await startReceiver({ group, logDir, requestLog });
    const port = await freePort();
    const env = productEnv(redis.url, {
      PORT: String(port),
      LOG_LEVEL: 'info',
      WORKER_QUEUES: 'debug',
      WORKER_CONCURRENCY: String(o.concurrency ?? 16),
      STALL_INTERVAL_MS: '1000',
      CALLBACK_BACKOFF_MS: '200',
      CALLBACK_MAX_RETRIES: '10',
      CALLBACK_TIMEOUT_MS: '1000',
      SHUTDOWN_GRACE_MS: '2000',
    });
    const c: Ctx = { group, logDir, redis, env, t0: Date.now(), events: [], log };
    let api: ApiProc = await startApi({ group, logDir, name: 'api1', env });
    const workers: ChildProcess[] = [];
    for (let i = 0; i < (o.workers ?? 3); i++) workers.push(newWorker(c));
    await Promise.all(workers.map((w, i) => waitForLog(logPath(logDir, `worker${i + 1}`), 'worker ready', 30_000, w)));
    await receiver.failRate(o.receiverFailRate ?? 0.3);

    const pool = new Pool(api.url, { connections: 32, pipelining: 1 });
    const accepted: string[] = [];
    let submitRetries = 0;
    let neverAccepted = 0;
    const durationMs = (o.tasks / o.rate) * 1000;
    c.t0 = Date.now();
    note(c, `submitting ${o.tasks} tasks at ${o.rate}/s over ${(durationMs / 1000).toFixed(1)} s`);

    // Chaos actions run beside the submissions.
    const chaosEnds: Promise<void>[] = [];
    let chaosOn = true;
    let kills = 0;
    const maxKills = o.maxWorkerKills ?? Number.POSITIVE_INFINITY;
    chaosEnds.push(
      (async () => {
        const every = o.killEveryMs ?? 2000;
        while (chaosOn && kills < maxKills) {
          await sleep(every);
          if (!chaosOn) break;
          const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0];
          if (!victim) continue;
          victim.kill('SIGKILL');
          kills += 1;
          workers.push(newWorker(c));
          note(c, `SIGKILL worker pid ${victim.pid}; started worker${workerSeq}`);
        }
      })(),
    );
    const at = (frac: number | null | undefined, f: () => Promise<void>): void => {
      if (frac === null || frac === undefined) return;
      chaosEnds.push(sleep(frac * durationMs).then(f));
    };
    at(o.redisRestartAt === undefined ? 0.4 : o.redisRestartAt, async () => {
      note(c, 'Redis: SIGTERM (clean shutdown, AOF fsynced)');
      await redis.stop();
      await redis.start();
      note(c, 'Redis: started again on the same port and dir');
    });
    at(o.apiRestartAt === undefined ? 0.6 : o.apiRestartAt, async () => {
      note(c, `API: SIGKILL pid ${api.proc.pid}`);
      await group.stop(api.proc, 'SIGKILL');
      api = await startApi({ group, logDir, name: 'api2', env });
      note(c, 'API: ready again');
    });
    const outage = o.receiverOutageMs ?? 5000;
    if (outage > 0) {
      at(o.receiverOutageAt ?? 0.7, async () => {
        note(c, `receiver: down for ${outage} ms`);
        const up = receiver.up(outage + 30_000);
        await receiver.down(outage);
        await up;
        note(c, 'receiver: up again');
      });
    }

    const inFlight: Promise<void>[] = [];
    let i = 0;
    await pace(o.rate, durationMs, () => {
      const n = i++;
      const body = JSON.stringify(
        n % 2 === 0
          ? { task_type: 'debug.echo', task_data: { n }, callback_url: receiver.url() }
          : { task_type: 'debug.sleep', task_data: { ms: 50 + ((n * 37) % 451) }, callback_url: receiver.url() },
      );
      inFlight.push(
        // The deadline outlasts the API's 15 s idempotency lock (a claim left by the API kill) many times over.
        submitOne(pool, body, `chaos-${n}`, Date.now() + 90_000, () => void (submitRetries += 1)).then((id) => {
          if (id) accepted.push(id);
          else neverAccepted += 1;
        }),
      );
    });
    await Promise.all(inFlight);
    note(c, `submissions done: ${accepted.length} accepted, ${submitRetries} retried attempts`);
    chaosOn = false;
    await Promise.all(chaosEnds);
    await receiver.failRate(0);
    const calmAt = Date.now();
    note(c, 'chaos over; receiver healthy; draining');

    // Drain: until every accepted task has a callback answered 200.
    let missing = accepted;
    const drainDeadline = Date.now() + (o.drainTimeoutMs ?? 120_000);
    while (Date.now() < drainDeadline) {
      missing = await receiver.missing(accepted);
      if (missing.length === 0) break;
      await sleep(250);
    }
    await receiver.flush();
    note(c, `drain ended: ${accepted.length - missing.length}/${accepted.length} called back`);

    // Judge from the receiver's own log.
    const lines = readFileSync(requestLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ReceiverLogLine);
    const acceptedSet = new Set(accepted);
    const firstOk = new Map<string, number>();
    const okByMsg = new Map<string, number>();
    const msgsByTask = new Map<string, Set<string>>();
    const outcomes: Record<string, number> = {};
    let unacknowledged = 0;
    const requests = { total: lines.length, ok: 0, err500: 0, dropped: 0 };
    for (const l of lines) {
      if (l.reply === 500) requests.err500 += 1;
      else if (l.reply === 'drop') requests.dropped += 1;
      else requests.ok += 1;
      if (l.reply !== 200) continue;
      if (!acceptedSet.has(l.task_id)) {
        unacknowledged += 1;
        continue;
      }
      okByMsg.set(l.webhook_id, (okByMsg.get(l.webhook_id) ?? 0) + 1);
      const set = msgsByTask.get(l.task_id) ?? new Set<string>();
      set.add(l.webhook_id);
      msgsByTask.set(l.task_id, set);
      if (!firstOk.has(l.task_id)) {
        firstOk.set(l.task_id, l.at);
        outcomes[l.event] = (outcomes[l.event] ?? 0) + 1;
      }
    }
    const lost = accepted.filter((id) => !firstOk.has(id));
    const lastOk = Math.max(calmAt, ...[...firstOk.values()]);

    // Judge from the API: terminal status and a delivered callback.
    const notFinished: ChaosReport['notFinished'] = [];
    const apiPool = new Pool(api.url, { connections: 16 });
    await waitReady(api.url, null, 30_000);
    for (let k = 0; k < accepted.length; k += 32) {
      await Promise.all(
        accepted.slice(k, k + 32).map(async (id) => {
          const r = await getJson(apiPool, `/api/v1/tasks/${id}`);
          const status = String(r.json.status ?? r.status);
          const cb = String((r.json.callback as { state?: string } | undefined)?.state ?? 'unknown');
          if (status === 'failed') {
            const et = String((r.json.error as { error_type?: string } | undefined)?.error_type ?? 'error');
            outcomes[`failed:${et}`] = (outcomes[`failed:${et}`] ?? 0) + 1;
          }
          if (!(status === 'completed' || status === 'failed') || cb !== 'delivered') notFinished.push({ task_id: id, status, callback: cb });
        }),
      );
    }
    await Promise.all([apiPool.close(), pool.close()]);
    const recordsByStatus = await countRecords(redis);

    const report: ChaosReport = {
      ok: lost.length === 0 && notFinished.length === 0,
      submitted: i,
      accepted: accepted.length,
      submitRetries,
      neverAccepted,
      events: c.events,
      workerKills: kills,
      outcomes,
      lost,
      notFinished,
      recordsByStatus,
      requests,
      duplicateDeliveries: [...okByMsg.values()].filter((n) => n > 1).length,
      tasksWithSeveralMessageIds: [...msgsByTask.values()].filter((s) => s.size > 1).length,
      callbacksForUnacknowledgedTasks: unacknowledged,
      drainMs: lastOk - calmAt,
      elapsedMs: Date.now() - started,
      workDir,
    };
    ok = report.ok;
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await group.stopAll(5000).catch(() => group.killAllNow());
    if (ok && !o.keepFiles) rmSync(workDir, { recursive: true, force: true });
  }
}

/** A human summary of a report. */
export function formatChaosReport(r: ChaosReport): string {
  const lines = [
    `accepted ${r.accepted} of ${r.submitted} submitted (${r.submitRetries} submit attempts retried, ${r.neverAccepted} never accepted)`,
    `worker kills: ${r.workerKills}; events: ${r.events.length}`,
    `outcomes (first callback per task, and failures by error_type): ${JSON.stringify(r.outcomes)}`,
    `LOST (accepted, no terminal callback answered 200): ${r.lost.length}${r.lost.length ? ` e.g. ${r.lost.slice(0, 5).join(', ')}` : ''}`,
    `not terminal+delivered per API: ${r.notFinished.length}${r.notFinished.length ? ` e.g. ${JSON.stringify(r.notFinished.slice(0, 5))}` : ''}`,
    `task records in Redis by status (incl. unacknowledged duplicates): ${JSON.stringify(r.recordsByStatus)}`,
    `receiver requests: ${r.requests.total} (200: ${r.requests.ok}, 500: ${r.requests.err500}, dropped: ${r.requests.dropped})`,
    `duplicate deliveries (same webhook-id answered 200 twice or more): ${r.duplicateDeliveries}; tasks with >1 webhook-id: ${r.tasksWithSeveralMessageIds}`,
    `callbacks for tasks the client never saw accepted (a submit queued twice): ${r.callbacksForUnacknowledgedTasks}`,
    `drain after chaos ended: ${(r.drainMs / 1000).toFixed(1)} s; total ${(r.elapsedMs / 1000).toFixed(1)} s`,
    r.ok ? 'RESULT: no loss' : `RESULT: LOSS OR STUCK TASKS (files kept in ${r.workDir})`,
  ];
  return lines.join('\n');
}
