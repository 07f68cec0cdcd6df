/**
 * Fuzz: thousands of generated malformed requests, written byte by byte on
 * raw sockets to a real HTTP server (loopback) backed by a real Redis.
 * Seeded (FUZZ_SEED=<n> to replay a failure): zero 5xx, every non-2xx answer
 * is application/problem+json, nothing is logged as an error, the server
 * stays up and a valid request still works at the end.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import { createApp } from '../../src/api/app.js';
import { attachProblemHandlers } from '../../src/api/problem.js';
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createProducer, type Producer } from '../../src/queue/producer.js';
import { createKeys } from '../../src/store/keys.js';
import { registry } from '../../tasks/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { KEY_A } from './harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20250101);
const CASES = 2400;
const PARALLEL = 16;
const MAX_BODY = 65_536;

/** mulberry32: small, fast, good enough to make cases; the seed reproduces them. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  /** For the failure message. */
  label: string;
  /** The exact bytes written. */
  raw: Buffer;
  /** The request is cut short (truncated body): the server may have nobody left to answer. */
  mayGoUnanswered: boolean;
  head: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function generator(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const chance = (p: number) => rnd() < p;

  const randomString = (max: number): string => {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '💥', '\u0000', '\u2028', '{', '}', '%', '/', '.', '__proto__'];
    let s = '';
    const n = int(max);
    for (let i = 0; i < n; i += 1) s += pick(alphabet);
    return s;
  };

  const randomValue = (depth: number): unknown => {
    const r = int(depth > 4 ? 6 : 9);
    switch (r) {
      case 0: return null;
      case 1: return chance(0.5);
      case 2: return pick([0, -1, 1.5, 1e308, -1e-308, Number.MAX_SAFE_INTEGER + 2, 86_401, 2 ** 31]);
      case 3: return randomString(40);
      case 4: return pick(['', 'debug.echo', 'debug.sleep', 'video.nope', 'http://127.0.0.1:1/', 'javascript:alert(1)']);
      case 5: return [];
      case 6: return Array.from({ length: int(5) }, () => randomValue(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = int(5); i > 0; i -= 1) o[pick(['task_type', 'task_data', 'metadata', 'options', 'tasks', 'ms', 'x', randomString(8)])] = randomValue(depth + 1);
        return o;
      }
    }
  };

  /** A valid-looking task with one field made wrong. */
  const mutatedTask = (): Record<string, unknown> => {
    const t: Record<string, unknown> = {
      task_type: pick(['debug.echo', 'debug.sleep', 'debug.fail', 'image.resize', 'nope']),
      task_data: { ms: 1 },
      callback_url: pick(['https://receiver.example/hook', null, 'http://[::1]:9/', 'http://0x7f.1/', 'ftp://x/', 'http://u:p@x.test/']),
      metadata: { k: 1 },
      project_id: pick(['p1', 'bad id!', '', 'x'.repeat(200)]),
      options: { timeout_s: 10 },
    };
    const field = pick(Object.keys(t));
    t[field] = randomValue(0);
    if (chance(0.2)) t.options = { [pick(['timeout_s', 'retries', 'delay_s', 'sticky'])]: randomValue(3) };
    if (chance(0.1)) t.unknown_field = 1;
    return t;
  };

  const deep = (n: number): string => (chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n));

  const body = (): { bytes: Buffer; kind: string } => {
    switch (int(10)) {
      case 0: return { bytes: Buffer.from(JSON.stringify(randomValue(0)) ?? 'null'), kind: 'random-json' };
      case 1: return { bytes: Buffer.from(JSON.stringify(mutatedTask())), kind: 'mutated-task' };
      case 2: return { bytes: Buffer.from(JSON.stringify({ tasks: Array.from({ length: int(120) }, mutatedTask), metadata: randomValue(2) })), kind: 'mutated-batch' };
      case 3: return { bytes: Buffer.from(JSON.stringify({ task_type: 'debug.echo', task_data: { s: 'x'.repeat(int(MAX_BODY * 1.5)) } })), kind: 'huge-string' };
      case 4: return { bytes: Buffer.from(deep(1 + int(20_000))), kind: 'deep' };
      case 5: {
        const good = Buffer.from(JSON.stringify(mutatedTask()));
        const bad = Buffer.from(pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]));
        const at = int(good.length);
        return { bytes: Buffer.concat([good.subarray(0, at), bad, good.subarray(at)]), kind: 'bad-utf8' };
      }
      case 6: return { bytes: Buffer.from(Array.from({ length: int(2000) }, () => int(256))), kind: 'random-bytes' };
      case 7: return { bytes: Buffer.from(pick(['', ' ', 'null', '[]', '{', '{"task_type":', '{"__proto__":{"x":1}}', '{"task_type":"debug.echo","task_data":{"constructor":{"prototype":1}}}', '1e999999', '"\\ud800"'])), kind: 'edge-json' };
      case 8: return { bytes: Buffer.from(JSON.stringify({ task_type: 'debug.echo', metadata: JSON.parse(deep(1 + int(30))) as unknown })), kind: 'deep-metadata' };
      default: return { bytes: Buffer.from(JSON.stringify({ task_type: 'debug.echo', task_data: { n: int(1000) } })), kind: 'valid' };
    }
  };

  const paths = (): string =>
    pick([
      '/api/v1/tasks',
      '/api/v1/tasks/submit',
      '/api/v1/tasks/batch',
      '/api/v1/tasks/batch',
      `/api/v1/tasks/${pick(['00000000-0000-0000-0000-000000000000', 'ZZZ', '..%2f..%2fetc%2fpasswd', '%00', '%', '%zz', 'a'.repeat(3000), '💥', '1;DROP', '-1', 'null'])}`,
      '/api/v1/task-types',
      '/healthz',
      '/readyz',
      '/',
      '//api//v1//tasks',
      '/api/v1/tasks/../tasks',
      '/api/v1/tasks?x=1&x=2&__proto__[a]=1',
      '/api/v1/files/../../etc/passwd',
      `/${randomString(30).replace(/[\s\u0000]/g, '')}`,
      '*',
      'http://evil.example/api/v1/tasks',
      '/api/v2/tasks',
    ]);

  const contentType = (): string | null =>
    pick([
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/problem+json',
      'application/json-patch+json',
      '',
      null,
    ]);

  const auth = (): string[] =>
    pick([
      [`X-API-Key: ${KEY_A}`],
      [`X-API-Key: ${KEY_A}`],
      [`X-API-Key: ${KEY_A}`],
      [`Authorization: Bearer ${KEY_A}`],
      [],
      ['X-API-Key: wrong'],
      [`X-API-Key: ${KEY_A}`, 'X-API-Key: other'],
      [`Authorization: Basic ${Buffer.from(`a:${KEY_A}`).toString('base64')}`],
      [`X-API-Key: ${'k'.repeat(5000)}`],
      ['Authorization: Bearer'],
    ]);

  /** Odd but well-formed headers (the app sees these requests). */
  const oddHeaders = (): string[] => {
    const out: string[] = [];
    for (let i = int(3); i > 0; i -= 1) {
      out.push(
        pick([
          'Content-Type: text/plain',
          `Idempotency-Key: ${pick(['k1', 'k2', '', 'x'.repeat(300), 'a b c', 'é'])}`,
          'Idempotency-Key: dup',
          `traceparent: ${pick(['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'garbage', 'ff-'.repeat(100)])}`,
          'Content-Encoding: gzip',
          'Expect: 100-continue',
          'Accept: application/xml',
          'Range: bytes=0-1',
          'X-Forwarded-For: 127.0.0.1',
          `X-Long: ${'v'.repeat(int(4000))}`,
        ]),
      );
    }
    return out;
  };

  /** Headers Node's parser (or its Expect handling) refuses before the app runs. */
  const brokenHeader = (): string =>
    pick([
      'Transfer-Encoding: gzip',
      'Expect: nonsense',
      `X-Long: ${'v'.repeat(20_000 + int(20_000))}`,
      'Bad Header: x',
      'X-Ctl: a\u0001b',
      ':authority: x',
      'Host:',
      'Upgrade: websocket\r\nConnection: Upgrade',
    ]);

  return (i: number): Case => {
    // Half the cases aim at the submit routes the way a (buggy) client would; the rest anywhere, any way.
    const aimed = chance(0.5);
    const method = aimed
      ? 'POST'
      : pick(['POST', 'GET', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO', 'get', 'PROPFIND', 'M-SEARCH']);
    const path = aimed ? pick(['/api/v1/tasks', '/api/v1/tasks/submit', '/api/v1/tasks/batch']) : paths();
    const b = method === 'GET' && chance(0.7) ? { bytes: Buffer.alloc(0), kind: 'none' } : body();
    const headers = ['Host: 127.0.0.1', 'Connection: close', ...(aimed && chance(0.8) ? [`X-API-Key: ${KEY_A}`] : auth())];
    const ct = aimed && chance(0.7) ? 'application/json' : contentType();
    if (ct !== null) headers.push(`Content-Type: ${ct}`);
    headers.push(...oddHeaders());
    if (chance(0.1)) headers.push(brokenHeader());

    let framing = aimed && chance(0.6)
      ? pick(['length', 'chunked'])
      : pick(['length', 'length', 'chunked', 'bad-chunked', 'huge-length', 'truncated', 'none', 'length-and-chunked', 'wrong-length']);
    if (b.bytes.length === 0 && framing !== 'huge-length') framing = pick(['length', 'none']);
    let payload: Buffer = b.bytes;
    let mayGoUnanswered = false;
    switch (framing) {
      case 'length':
        headers.push(`Content-Length: ${b.bytes.length}`);
        break;
      case 'chunked': {
        const parts: Buffer[] = [];
        for (let at = 0; at < b.bytes.length; ) {
          const n = 1 + int(4096);
          const chunk = b.bytes.subarray(at, at + n);
          parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
          at += n;
        }
        parts.push(Buffer.from('0\r\n\r\n'));
        headers.push('Transfer-Encoding: chunked');
        payload = Buffer.concat(parts);
        break;
      }
      case 'bad-chunked':
        headers.push('Transfer-Encoding: chunked');
        payload = Buffer.concat([Buffer.from('zz\r\n'), b.bytes.subarray(0, 100), Buffer.from('\r\n0\r\n\r\n')]);
        break;
      case 'huge-length':
        headers.push(`Content-Length: ${pick(['1000000000', '99999999999999999999', '-1', '1e3', '0x10', '  5', '5, 6'])}`);
        payload = b.bytes.subarray(0, 64);
        mayGoUnanswered = true;
        break;
      case 'truncated':
        headers.push(`Content-Length: ${b.bytes.length + 1 + int(1000)}`);
        mayGoUnanswered = true;
        break;
      case 'length-and-chunked':
        headers.push(`Content-Length: ${b.bytes.length}`, 'Transfer-Encoding: chunked');
        break;
      case 'wrong-length':
        // Shorter than the body: the rest is read as the next (garbage) request.
        headers.push(`Content-Length: ${int(Math.max(1, b.bytes.length))}`);
        break;
      default:
        break;
    }
    const head = Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    return {
      label: `#${i} seed=${SEED} ${method} ${path.slice(0, 80)} body=${b.kind}(${b.bytes.length}) framing=${framing} ct=${String(ct)}`,
      raw: Buffer.concat([head, payload]),
      mayGoUnanswered,
      head: method === 'HEAD',
    };
  };
}

/** Parses every response on the connection (a bad Content-Length may produce two). */
function parseAnswers(bytes: Buffer): Answer[] {
  const out: Answer[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response head: ${JSON.stringify(rest.subarray(0, 200).toString('latin1'))}`);
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`bad status line: ${statusLine}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? (headers['transfer-encoding'] ? NaN : 0));
    const bodyStart = end + 4;
    let body: Buffer;
    if (Number.isNaN(len)) {
      body = dechunk(rest.subarray(bodyStart));
      rest = Buffer.alloc(0);
    } else {
      body = rest.subarray(bodyStart, bodyStart + len);
      rest = rest.subarray(bodyStart + len);
    }
    out.push({ status: Number(m[1]), headers, body: body.toString('utf8') });
  }
  return out;
}

function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) break;
    const n = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!n) break;
    parts.push(b.subarray(eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Writes the bytes and collects everything until the server closes (every
 * request says `Connection: close`) or `timeoutMs`. A request cut short is
 * half-closed after `endAfterMs`, as a client that gives up would; a complete
 * one is not (Node's server drops a half-closed client's pending answers).
 */
function exchange(port: number, raw: Buffer, timeoutMs: number, endAfterMs: number | null = null): Promise<{ bytes: Buffer; timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' });
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('connect', () => {
      socket.write(raw, () => {
        if (endAfterMs !== null) setTimeout(() => socket.end(), endAfterMs).unref();
      });
    });
  });
}

describe('api: fuzz (malformed requests on a raw socket)', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let server: Server;
  let producer: Producer;
  let port: number;
  const appStatuses: number[] = [];
  let errorLog: sinon.SinonSpy;
  let client: ReturnType<TestRedis['client']>;

  before(async () => {
    redis = await startRedis();
    const config = testConfig({ REDIS_URL: redis.url, REDIS_PREFIX: 'thf', API_KEYS: KEY_A, MAX_BODY_BYTES: String(MAX_BODY), RATE_LIMIT_PER_MIN: '0' });
    client = redis.client();
    const keys = createKeys(config.REDIS_PREFIX);
    producer = createProducer({ redis: client, keys, redisUrl: redis.url, stallIntervalMs: config.STALL_INTERVAL_MS });
    const logger = silentLogger();
    errorLog = sinon.spy(logger, 'error');
    const app = createApp({
      config,
      logger,
      registry,
      redis: client,
      keys,
      producer,
      // No DNS from tests: the policy itself is covered elsewhere; here any answer will do.
      checkCallbackUrl: async (url) => {
        if (url.includes('127.0.0.1') || url.includes('[::1]') || url.startsWith('ftp')) throw new Error('blocked');
      },
      isShuttingDown: () => false,
    });
    server = createServer(app.callback());
    attachProblemHandlers(server);
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.on('request', (_req, res) => res.on('finish', () => appStatuses.push(res.statusCode)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await producer.close();
    client.disconnect();
    await redis.destroy();
  });

  it(`${CASES} generated malformed requests: no 5xx, every error is problem+json, the server stays up`, async () => {
    const make = generator(SEED);
    const cases = Array.from({ length: CASES }, (_, i) => make(i));
    const failures: string[] = [];
    const seen = new Map<number, number>();
    const codes = new Map<string, number>();
    let unanswered = 0;
    let next = 0;
    const started = Date.now();
    const workerLoop = async () => {
      while (next < cases.length) {
        const c = cases[next++] as Case;
        const { bytes, timedOut } = await exchange(port, c.raw, 5_000, c.mayGoUnanswered ? 100 : null);
        if (bytes.length === 0) {
          unanswered += 1;
          if (!c.mayGoUnanswered || timedOut) failures.push(`${c.label}: no answer${timedOut ? ' (timed out)' : ''}`);
          continue;
        }
        let answers: Answer[];
        try {
          answers = parseAnswers(bytes);
        } catch (err) {
          failures.push(`${c.label}: ${(err as Error).message}`);
          continue;
        }
        for (const a of answers) {
          seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
          const code = /"code":"([a-z_]+)"/.exec(a.body)?.[1] ?? '';
          codes.set(`${a.status}:${code}`, (codes.get(`${a.status}:${code}`) ?? 0) + 1);
          if (a.status >= 500) failures.push(`${c.label}: ${a.status} ${a.body.slice(0, 200)}`);
          if (a.status < 300) continue;
          const type = a.headers['content-type'] ?? '';
          if (!type.startsWith('application/problem+json')) {
            failures.push(`${c.label}: ${a.status} with content-type ${JSON.stringify(type)}`);
            continue;
          }
          if (c.head) continue;
          try {
            const p = JSON.parse(a.body) as Record<string, unknown>;
            if (p.status !== a.status || typeof p.code !== 'string' || p.type !== `urn:taskhook:problem:${String(p.code)}`) {
              failures.push(`${c.label}: not a problem body: ${a.body.slice(0, 200)}`);
            }
          } catch {
            failures.push(`${c.label}: ${a.status} body is not JSON: ${a.body.slice(0, 200)}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, workerLoop));
    const elapsed = Date.now() - started;

    expect(failures.slice(0, 20), `${failures.length} failures`).to.deep.equal([]);
    expect(appStatuses.filter((s) => s >= 500)).to.deep.equal([]);
    expect(errorLog.callCount, JSON.stringify(errorLog.args[0] ?? [])).to.equal(0);
    // The generator must really reach the app with both good and bad requests.
    const tally = JSON.stringify([...codes].sort());
    if (process.env.FUZZ_VERBOSE) console.log(tally, { elapsed, unanswered });
    expect(seen.get(202) ?? 0, tally).to.be.greaterThan(20);
    for (const status of [400, 401, 404, 405, 413, 415]) expect(seen.get(status) ?? 0, `status ${status}`).to.be.greaterThan(0);
    expect(unanswered).to.be.lessThan(CASES / 4);
    expect(elapsed).to.be.lessThan(45_000);
    expect(server.listening).to.equal(true);
  });

  it('a valid request still works afterwards, and /readyz reports the Redis safety settings', async () => {
    const body = JSON.stringify({ task_type: 'debug.echo', task_data: { after: 'fuzz' } });
    const raw = Buffer.from(
      `POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: ${KEY_A}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const [submitted] = parseAnswers((await exchange(port, raw, 5_000)).bytes);
    expect(submitted?.status, submitted?.body).to.equal(202);
    const id = (JSON.parse(submitted?.body ?? '{}') as { task_id: string }).task_id;
    const [view] = parseAnswers((await exchange(port, Buffer.from(`GET /api/v1/tasks/${id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: ${KEY_A}\r\n\r\n`), 5_000)).bytes);
    expect(view?.status).to.equal(200);
    expect(JSON.parse(view?.body ?? '{}')).to.include({ task_id: id, status: 'queued' });

    const [ready] = parseAnswers((await exchange(port, Buffer.from('GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 5_000)).bytes);
    expect(ready?.status).to.equal(200);
    // startRedis runs with noeviction and no AOF.
    expect(JSON.parse(ready?.body ?? '{}')).to.deep.equal({ status: 'ready', redis: { maxmemory_policy: 'noeviction', appendonly: 'no' } });
  });
});
