/**
 * The load generator, in its own process so that its event loop never
 * competes with the runner's bookkeeping. undici Pools with keep-alive
 * connections; driven over IPC by `loadgen.ts`.
 */
import { Pool, type Dispatcher } from 'undici';
import { nowMs } from './clock.js';
import { pace } from './pacer.js';
import type { CeilingResult, LoadCommand, LoadResult, SubmitTarget, Submitted } from './loadgen-protocol.js';

interface Submitter {
  /** Submits task number `i`; resolves true when accepted (recorded with `at`). */
  submit(i: number, at: number): Promise<boolean>;
  result(t0: number, t1: number): LoadResult;
  close(): Promise<void>;
}

/**
 * One POST through `pool`, answered with its status and body text. undici's
 * `request()` wraps every response in a Readable stream, a promise and an
 * AsyncResource; a load generator that spends a third of a task's CPU on its
 * own client takes that CPU from the product it measures on two shared cores,
 * so it uses the dispatch API with a handler that only collects the bytes
 * (as the product's callback sender does, src/delivery/send.ts).
 */
function post(pool: Pool, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    const handler: Dispatcher.DispatchHandler = {
      // undici treats a handler without it as one of its older kind.
      onRequestStart() {},
      onResponseStart(_controller, statusCode) {
        status = statusCode;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, text: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    };
    pool.dispatch({ path, method: 'POST', headers, body }, handler);
  });
}

function submitter(target: SubmitTarget, connections: number): Submitter {
  const origin = new URL(target.api).origin;
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const submits: Submitted[] = [];
  const statuses: Record<string, number> = {};
  let tDone = 0;
  const prefix = `{"task_type":${JSON.stringify(target.taskType)},"task_data":${JSON.stringify(target.taskData)},"callback_url":`;
  const headers = { 'content-type': 'application/json', 'x-api-key': target.apiKey };
  return {
    async submit(i, at) {
      const n = target.callbackUrls.length;
      const body = `${prefix}${JSON.stringify(target.callbackUrls[i % n])}}`;
      try {
        const { status, text } = await post(pool, '/api/v1/tasks', headers, body);
        statuses[status] = (statuses[status] ?? 0) + 1;
        tDone = nowMs();
        if (status !== 202) return false;
        submits.push([(JSON.parse(text) as { task_id: string }).task_id, at, i % n]);
        return true;
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
        tDone = nowMs();
        return false;
      }
    },
    result: (t0, t1) => ({ accepted: submits.length, statuses, t0, t1, tDone, submits }),
    close: () => pool.close(),
  };
}

async function closed(m: Extract<LoadCommand, { cmd: 'closed' }>): Promise<LoadResult> {
  const s = submitter(m, m.connections);
  const t0 = nowMs();
  const end = t0 + m.durationMs;
  let i = 0;
  let t1 = t0;
  await Promise.all(
    Array.from({ length: m.connections }, async () => {
      while (nowMs() < end) {
        const at = nowMs();
        t1 = at;
        await s.submit(i++, at);
      }
    }),
  );
  await s.close();
  return s.result(t0, t1);
}

async function open(m: Extract<LoadCommand, { cmd: 'open' }>): Promise<LoadResult> {
  const s = submitter(m, m.connections);
  const inFlight: Promise<boolean>[] = [];
  let i = 0;
  const t0 = nowMs();
  const { lagMaxMs } = await pace(m.rate, m.durationMs, (at) => {
    inFlight.push(s.submit(i++, at));
  });
  const t1 = nowMs();
  await Promise.all(inFlight);
  await s.close();
  return { ...s.result(t0, t1), lagMaxMs };
}

/** Submits `total` tasks through the batch endpoint (for filling a queue). */
async function batch(m: Extract<LoadCommand, { cmd: 'batch' }>): Promise<LoadResult> {
  const pool = new Pool(new URL(m.api).origin, { connections: m.concurrency, pipelining: 1 });
  const statuses: Record<string, number> = {};
  const submits: Submitted[] = [];
  const t0 = nowMs();
  let next = 0;
  await Promise.all(
    Array.from({ length: m.concurrency }, async () => {
      while (next < m.total) {
        const n = Math.min(m.batchSize, m.total - next);
        next += n;
        const tasks = Array.from({ length: n }, () => ({ task_type: m.taskType, task_data: m.taskData }));
        const res = await pool.request({
          path: '/api/v1/tasks/batch',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': m.apiKey },
          body: JSON.stringify({ tasks, callback_url: m.callbackUrls[0] }),
        });
        const text = await res.body.text();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 202) {
          const at = nowMs();
          for (const t of (JSON.parse(text) as { tasks: { task_id: string }[] }).tasks) submits.push([t.task_id, at, 0]);
        }
      }
    }),
  );
  await pool.close();
  const t1 = nowMs();
  return { accepted: submits.length, statuses, t0, t1, tDone: t1, submits };
}

/** The callback ceiling: POSTs a callback-sized body with `inFlight` requests outstanding. */
async function ceiling(m: Extract<LoadCommand, { cmd: 'ceiling' }>): Promise<CeilingResult> {
  const u = new URL(m.url);
  const pool = new Pool(u.origin, { connections: m.inFlight, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers = {
    'content-type': 'application/json',
    'webhook-id': 'msg_bench',
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
    'webhook-signature': `v1,${'A'.repeat(44)}`,
    'x-webhook-signature': `sha256=${'0'.repeat(64)}`,
  };
  let count = 0;
  let errors = 0;
  const t0 = nowMs();
  const end = t0 + m.durationMs;
  await Promise.all(
    Array.from({ length: m.inFlight }, async () => {
      while (nowMs() < end) {
        try {
          const res = await pool.request({ path: u.pathname, method: 'POST', headers, body: m.body });
          await res.body.dump();
          count += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const t1 = nowMs();
  await pool.close();
  return { count, errors, t0, t1 };
}

process.on('message', (raw: unknown) => {
  const m = raw as LoadCommand;
  const run = (): Promise<unknown> => {
    switch (m.cmd) {
      case 'closed':
        return closed(m);
      case 'open':
        return open(m);
      case 'batch':
        return batch(m);
      case 'ceiling':
        return ceiling(m);
      default:
        return Promise.reject(new Error('unknown command'));
    }
  };
  run().then(
    (result) => process.send?.({ id: m.id, result }),
    (err: unknown) => process.send?.({ id: m.id, error: String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ event: 'ready' });
