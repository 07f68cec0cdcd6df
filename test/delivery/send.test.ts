import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { DestinationBlockedError } from '../../src/errors.js';
import { parseRetryAfter, sendAttempt, type AttemptRequest } from '../../src/delivery/send.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('delivery/send: sendAttempt', function () {
  let server: Server;
  let base: string;
  let handler: Handler;
  let agent: Agent;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  before(async () => {
    server = createServer((req, res) => {
      res.on('error', () => {});
      req.on('error', () => {});
      handler(req, res);
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    agent = new Agent();
  });

  afterEach(async () => {
    for (const t of timers) clearInterval(t);
    timers.clear();
    await agent.destroy();
    for (const s of sockets) s.destroy();
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function attempt(path: string, over: Partial<AttemptRequest> = {}) {
    return sendAttempt({
      url: `${base}${path}`,
      body: '{"event":"task.completed"}',
      headers: { 'content-type': 'application/json', 'x-test': 'yes' },
      dispatcher: agent,
      timeoutMs: 2000,
      maxResponseBytes: 65536,
      ...over,
    });
  }

  it('200: delivered, body and headers sent as given, excerpt read', async () => {
    let got: { method?: string; body: string; headers: IncomingMessage['headers'] } | undefined;
    handler = (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        got = { method: req.method, body, headers: req.headers };
        res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'x=1' }).end('thanks');
      });
    };
    const r = await attempt('/ok');
    expect(r).to.include({ status_code: 200, error: null, error_kind: 'none', retry_after_ms: null, response_excerpt: 'thanks' });
    expect(r.response_headers).to.deep.equal({ 'content-type': 'text/plain' });
    expect(r.duration_ms).to.be.a('number').and.at.least(0);
    expect(got?.method).to.equal('POST');
    expect(got?.body).to.equal('{"event":"task.completed"}');
    expect(got?.headers['x-test']).to.equal('yes');
    expect(got?.headers['content-type']).to.equal('application/json');
  });

  it('500: status recorded as an http error', async () => {
    handler = (_req, res) => res.writeHead(500).end('boom');
    const r = await attempt('/fail');
    expect(r).to.include({ status_code: 500, error_kind: 'http', error: 'HTTP 500', response_excerpt: 'boom' });
  });

  it('302: the redirect is not followed and its target is redacted', async () => {
    let hits = 0;
    handler = (req, res) => {
      if (req.url === '/target') hits++;
      res.writeHead(302, { location: `${base}/target?token=s3cret` }).end();
    };
    const r = await attempt('/redirect');
    expect(r.status_code).to.equal(302);
    expect(r.error_kind).to.equal('redirect');
    expect(r.response_headers.location).to.equal(`${base}/target`);
    expect(r.error).to.include('not followed').and.not.include('s3cret');
    expect(hits).to.equal(0);
  });

  it('429 with Retry-After in seconds', async () => {
    handler = (_req, res) => res.writeHead(429, { 'retry-after': '7' }).end();
    const r = await attempt('/busy');
    expect(r).to.include({ status_code: 429, error_kind: 'http', retry_after_ms: 7000 });
    expect(r.response_headers['retry-after']).to.equal('7');
  });

  it('503 with Retry-After as an HTTP-date', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    handler = (_req, res) => res.writeHead(503, { 'retry-after': at }).end();
    const r = await attempt('/busy');
    expect(r.status_code).to.equal(503);
    expect(r.retry_after_ms).to.be.within(55_000, 60_000);
  });

  it('a receiver that never answers: timeout at the deadline', async () => {
    handler = () => {};
    const r = await attempt('/silent', { timeoutMs: 300 });
    expect(r.error_kind).to.equal('timeout');
    expect(r.status_code).to.equal(null);
    expect(r.error).to.include('300 ms');
    expect(r.duration_ms).to.be.at.least(290).and.below(2000);
  });

  it('a 10 MB body: only maxResponseBytes are read and the attempt ends promptly', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 'a');
    let socketClosed = false;
    handler = (req, res) => {
      req.socket.on('close', () => (socketClosed = true));
      res.writeHead(200, { 'content-type': 'text/plain' }).end(big);
    };
    const r = await attempt('/big', { maxResponseBytes: 65536 });
    expect(r).to.include({ status_code: 200, error_kind: 'none' });
    expect(r.response_excerpt).to.have.length(4096);
    expect(r.duration_ms).to.be.below(2000);
    // The client hung up instead of draining 10 MB into a kept-alive socket.
    for (let i = 0; i < 40 && !socketClosed; i++) await new Promise((res) => setTimeout(res, 25));
    expect(socketClosed).to.equal(true);
  });

  it('reads no more than maxResponseBytes (and nothing at 0)', async () => {
    handler = (_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end('z'.repeat(1000));
    const small = await attempt('/small', { maxResponseBytes: 100 });
    expect(small).to.include({ status_code: 400, error_kind: 'http' });
    expect(small.response_excerpt).to.equal('z'.repeat(100));
    const none = await attempt('/none', { maxResponseBytes: 0 });
    expect(none).to.include({ status_code: 400, response_excerpt: '' });
  });

  it('a body trickling forever: ends at the deadline, status kept', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('x'), 200);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    };
    const r = await attempt('/trickle', { timeoutMs: 700 });
    expect(r.error_kind).to.equal('timeout');
    expect(r.status_code).to.equal(200);
    expect(r.duration_ms).to.be.at.least(690).and.below(3000);
  });

  it('a reset connection: connection error', async () => {
    handler = (req) => req.socket.destroy();
    const r = await attempt('/reset');
    expect(r.error_kind).to.equal('connection');
    expect(r.status_code).to.equal(null);
    expect(r.error).to.be.a('string').and.not.empty;
  });

  it('connection refused: connection error, no credentials or query in the message', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r = await sendAttempt({
      url: `http://user:hunter2@127.0.0.1:${port}/cb?token=s3cret`,
      body: '{}',
      headers: {},
      dispatcher: agent,
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    expect(r.error_kind).to.equal('connection');
    expect(r.error).to.match(/ECONNREFUSED/);
    expect(r.error).to.not.include('hunter2').and.not.include('s3cret');
  });

  it('destination_blocked from the connector (wrapped in cause): blocked', async () => {
    const connect = buildConnector({});
    const guarded: Dispatcher = new Agent({
      connect: (opts, cb) => {
        if (opts.hostname === '127.0.0.1') {
          const wrapped = new Error('connect failed', { cause: new DestinationBlockedError('loopback address') });
          cb(wrapped, null);
          return;
        }
        connect(opts, cb);
      },
    });
    let hits = 0;
    handler = (_req, res) => {
      hits++;
      res.end();
    };
    try {
      const r = await attempt('/blocked?token=s3cret', { dispatcher: guarded });
      expect(r.error_kind).to.equal('blocked');
      expect(r.error).to.equal('Destination blocked: loopback address');
      expect(hits).to.equal(0);
    } finally {
      await guarded.destroy();
    }
  });

  it('a complete read keeps the connection alive for the next attempt', async () => {
    const seen = new Set<Socket>();
    handler = (req, res) => {
      seen.add(req.socket);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    };
    const excerpts: string[] = [];
    for (const path of ['/a', '/b', '/c']) {
      excerpts.push((await attempt(path)).response_excerpt);
      // undici returns the socket to its pool just after the response ends.
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(excerpts).to.deep.equal(['ok', 'ok', 'ok']);
    expect(seen.size).to.equal(1);
  });

  it('a deadline that passes while queued for a connection: timeout, and the request is never sent', async () => {
    const single = new Agent({ connections: 1 });
    const paths: string[] = [];
    let release: (() => void) | null = null;
    handler = (req, res) => {
      paths.push(req.url ?? '');
      if (req.url === '/hold') release = () => res.end('late');
      else res.end('ok');
    };
    try {
      const held = attempt('/hold', { dispatcher: single, timeoutMs: 5000 });
      const queued = await attempt('/queued', { dispatcher: single, timeoutMs: 200 });
      expect(queued.error_kind).to.equal('timeout');
      expect(queued.status_code).to.equal(null);
      expect(queued.duration_ms).to.be.at.least(190).and.below(2000);
      (release as (() => void) | null)?.();
      expect((await held).response_excerpt).to.equal('late');
      // The freed connection must not then send the request that already timed out.
      await new Promise((r) => setTimeout(r, 100));
      expect(paths).to.deep.equal(['/hold']);
    } finally {
      await single.destroy();
    }
  });

  it('an unparseable URL: connection error, nothing thrown', async () => {
    const r = await attempt('', { url: 'not a url' });
    expect(r).to.include({ error_kind: 'connection', status_code: null });
    expect(r.error).to.be.a('string').and.not.empty;
  });

  it('20 huge or trickling responses do not grow memory', async function () {
    this.timeout(30_000);
    const big = Buffer.alloc(10 * 1024 * 1024, 'b');
    handler = (req, res) => {
      if (req.url === '/big') {
        res.writeHead(200).end(big);
        return;
      }
      res.writeHead(200);
      const t = setInterval(() => res.write('y'), 200);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    };
    // Warm up once so lazy allocations are not counted.
    await attempt('/big');
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const results = [];
    for (let batch = 0; batch < 4; batch++) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: 5 }, (_, i) => attempt(i % 2 === 0 ? '/big' : '/trickle', { timeoutMs: 400 })),
        )),
      );
    }
    const grown = process.memoryUsage().rss - before;
    expect(results).to.have.length(20);
    for (const r of results) expect(r.error_kind).to.be.oneOf(['none', 'timeout']);
    expect(results.filter((r) => r.error_kind === 'none')).to.have.length(12);
    expect(grown).to.be.below(40 * 1024 * 1024);
  });
});

describe('delivery/send: parseRetryAfter', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP-dates, refuses junk', () => {
    expect(parseRetryAfter(undefined, now)).to.equal(null);
    expect(parseRetryAfter('0', now)).to.equal(0);
    expect(parseRetryAfter(' 120 ', now)).to.equal(120_000);
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).to.equal(30_000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 23:00:00 GMT', now)).to.equal(0);
    expect(parseRetryAfter('soon', now)).to.equal(null);
    expect(parseRetryAfter('-5', now)).to.equal(null);
    expect(parseRetryAfter('1.5', now)).to.equal(null);
  });
});
