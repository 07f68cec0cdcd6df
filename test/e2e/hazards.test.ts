/**
 * Hostile receivers, through the real path (API → Redis → worker → outbox →
 * dispatcher → undici): a 10 MB answer, a receiver that drips one byte every
 * 2 s (in the head or in the body), one that never answers, one that resets
 * the connection. Every attempt must end within the deadline and be recorded
 * as a failed attempt with an error; memory stays flat over rounds; the
 * delivery slots come back, so a healthy callback on the same host is
 * delivered promptly afterwards.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';

const TIMEOUT_MS = 1000;
const BIG = 10 * 1024 * 1024;

type Hazard = 'big' | 'drip-head' | 'drip-body' | 'hang' | 'reset';
const HAZARDS: readonly Hazard[] = ['big', 'drip-head', 'drip-body', 'hang', 'reset'];

interface Attempt {
  n: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
}

interface HazardServer {
  url: string;
  /** Request arrival times by path. */
  arrivals: Map<string, number[]>;
  close(): Promise<void>;
}

/** One loopback server, a hazard per path; `/ok` answers 204 at once. */
async function startHazardServer(): Promise<HazardServer> {
  const arrivals = new Map<string, number[]>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const chunk = Buffer.alloc(64 * 1024, 0x61); // reused: the server itself must not allocate 10 MB

  const drip = (socket: Socket, text: string): void => {
    let i = 0;
    const t = setInterval(() => {
      if (socket.destroyed || i >= text.length) {
        clearInterval(t);
        timers.delete(t);
        return;
      }
      socket.write(text[i++] as string);
    }, 2000);
    timers.add(t);
    socket.write(text[i++] as string);
  };

  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      arrivals.set(path, [...(arrivals.get(path) ?? []), Date.now()]);
      const socket = req.socket;
      switch (path.slice(1) as Hazard | 'ok') {
        case 'big': {
          res.writeHead(500, { 'content-type': 'text/plain', 'content-length': BIG });
          let sent = 0;
          const pump = (): void => {
            while (sent < BIG) {
              sent += chunk.length;
              if (!res.write(chunk)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          res.on('error', () => undefined);
          pump();
          return;
        }
        case 'drip-head':
          drip(socket, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
          return;
        case 'drip-body':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
          res.flushHeaders();
          drip(socket, 'x'.repeat(100));
          return;
        case 'hang':
          return;
        case 'reset':
          socket.resetAndDestroy();
          return;
        default:
          res.statusCode = 204;
          res.end();
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('e2e: hostile callback receivers', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let stack: Stack;
  let hazards: HazardServer;

  before(async () => {
    redis = await startRedis();
    hazards = await startHazardServer();
    stack = await startStack({
      redisUrl: redis.url,
      env: {
        CALLBACK_TIMEOUT_MS: String(TIMEOUT_MS),
        CALLBACK_MAX_RETRIES: '0',
        // Small on purpose: a slot that leaked would soon block the healthy callback below.
        CALLBACK_HOST_CONCURRENCY: '2',
        RATE_LIMIT_PER_MIN: '0',
      },
    });
  });
  after(async () => {
    await stack?.close();
    await hazards?.close();
    await redis?.destroy();
  });

  const submit = async (path: string): Promise<string> => {
    const r = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', task_data: { path }, callback_url: `${hazards.url}${path}` });
    expect(r.status).to.equal(202);
    return String(r.json.task_id);
  };
  const settled = (t: Record<string, unknown>): boolean => ['failed', 'delivered'].includes((t.callback as { state: string }).state);

  /** One round: every hazard at once; returns each hazard's settled callback view. */
  async function round(): Promise<Map<Hazard, { state: string; attempts: Attempt[] }>> {
    const ids = await Promise.all(HAZARDS.map((h) => submit(`/${h}`)));
    const views = await Promise.all(ids.map((id) => stack.waitForTask(id, settled, 20_000)));
    return new Map(HAZARDS.map((h, i) => [h, views[i]?.callback as { state: string; attempts: Attempt[] }]));
  }

  it('bounds every attempt by the deadline, records it as failed with an error, and frees the slots', async () => {
    const cb = await round();
    for (const h of HAZARDS) {
      const c = cb.get(h);
      expect(c?.state, h).to.equal('failed');
      expect(c?.attempts, h).to.have.length(1);
      const a = c?.attempts[0] as Attempt;
      expect(a.error, h).to.be.a('string').and.not.equal('');
      // Never longer than the deadline (generous upper bound: a shared, noisy machine).
      expect(a.duration_ms, `${h}: ${a.duration_ms} ms`).to.be.below(TIMEOUT_MS + 1500);
      if (h === 'drip-head' || h === 'drip-body' || h === 'hang') {
        // These only end because of the deadline.
        expect(a.duration_ms, h).to.be.at.least(TIMEOUT_MS - 50);
        expect(a.error, h).to.match(/timed out/i);
      }
    }
    expect(cb.get('big')?.attempts[0]?.status_code).to.equal(500);
    expect(cb.get('drip-body')?.attempts[0]?.status_code).to.equal(200);
    expect(cb.get('drip-body')?.attempts[0]?.error).to.include('body unfinished');
    expect(cb.get('hang')?.attempts[0]?.status_code).to.equal(null);
    expect(cb.get('reset')?.attempts[0]?.status_code).to.equal(null);
    expect(cb.get('reset')?.attempts[0]?.duration_ms).to.be.below(TIMEOUT_MS);

    // Nothing left waiting or leased; every slot is back.
    expect(await stack.services.redis.zcard(stack.services.keys.due)).to.equal(0);
    expect(stack.worker?.dispatcher?.inFlight()).to.equal(0);

    // A healthy receiver on the same host is served at once.
    const started = Date.now();
    const id = await submit('/ok');
    const ok = await stack.waitForTask(id, settled, 10_000);
    expect((ok.callback as { state: string }).state).to.equal('delivered');
    expect(Date.now() - started).to.be.below(TIMEOUT_MS + 2000);
  });

  it('keeps memory flat over repeated rounds', async () => {
    await round(); // warm-up: connection pools, JIT, buffers
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 3; i += 1) {
      const cb = await round();
      for (const h of HAZARDS) expect(cb.get(h)?.state, h).to.equal('failed');
    }
    global.gc?.();
    const grown = process.memoryUsage().rss - before;
    // Reading the 10 MB answers (four rounds, 40 MB) would show; 64 KiB per attempt must not.
    expect(grown, `RSS grew ${Math.round(grown / 1e6)} MB`).to.be.below(30 * 1024 * 1024);
    expect(stack.worker?.dispatcher?.inFlight()).to.equal(0);
    // Each hazard was attempted exactly once per round: failed attempts are not silently retried.
    for (const h of HAZARDS) expect(hazards.arrivals.get(`/${h}`), h).to.have.length(5);
  });
});
