import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { request, type Agent } from 'undici';
import { DestinationBlockedError } from '../../src/errors.js';
import {
  checkUrl,
  createCheckedLookup,
  createEgressAgent,
  parseAllowlist,
  type EgressPolicy,
  type LookupFn,
} from '../../src/egress/index.js';
import { a4, a6, stubLookup } from './stub-lookup.js';

const policy = (allowlist: string[] = []): EgressPolicy => ({ allowHttp: true, allowlist: parseAllowlist(allowlist) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// undici returns a socket to its pool a tick after the body ends; without this
// pause the next request may open a second connection, with or without our connector.
const settle = () => new Promise((r) => setImmediate(r));

interface TestServer {
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const ok: Handler = (_req, res) => res.end('ok');

async function listen(server: Server, host: string): Promise<TestServer> {
  const state: TestServer = {
    port: 0,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        (server as http.Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

async function startServer(host = '127.0.0.1', handler: Handler = ok): Promise<TestServer> {
  let state: TestServer | undefined;
  const server = http.createServer((req, res) => {
    state?.requests.push(`${req.method ?? ''} ${req.headers.host ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  state = await listen(server, host);
  return state;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => expect.fail('the request was not refused'),
    (err: unknown) => err as Error,
  );
}

async function expectBlocked(agent: Agent, url: string, server: TestServer, fragment: string): Promise<void> {
  const err = await rejection(request(url, { dispatcher: agent }));
  expect(err, String(err)).to.be.instanceOf(DestinationBlockedError);
  expect((err as DestinationBlockedError).code).to.equal('destination_blocked');
  expect(err.message).to.include(fragment);
  await sleep(50); // a connection that was made would have reached the server by now
  expect(server.connections, 'connections the server saw').to.equal(0);
  expect(server.requests).to.deep.equal([]);
}

describe('egress: createEgressAgent against real loopback servers', () => {
  let v4: TestServer;
  let v6: TestServer;
  const agents: Agent[] = [];
  const agentFor = (p: EgressPolicy, lookup?: LookupFn): Agent => {
    const agent = createEgressAgent(p, lookup ? { lookup } : {});
    agents.push(agent);
    return agent;
  };

  beforeEach(async () => {
    v4 = await startServer('127.0.0.1');
    v6 = await startServer('::1');
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
    await Promise.all([v4.close(), v6.close()]);
  });

  it('refuses an IPv4 literal before dialling when the allowlist is empty', async () => {
    await expectBlocked(agentFor(policy()), `http://127.0.0.1:${v4.port}/`, v4, '127.0.0.1 is loopback');
  });

  it('refuses IPv6 literals before dialling, including the IPv4-mapped form', async () => {
    const agent = agentFor(policy());
    await expectBlocked(agent, `http://[::1]:${v6.port}/`, v6, '::1 is loopback');
    await expectBlocked(agent, `http://[::ffff:127.0.0.1]:${v4.port}/`, v4, 'IPv4-mapped form of 127.0.0.1');
  });

  it('connects to an allowlisted CIDR, IPv4 and IPv6, and reuses the connection', async () => {
    const agent = agentFor(policy(['127.0.0.0/8', '::1/128']));
    for (let i = 0; i < 3; i++) {
      const res = await request(`http://127.0.0.1:${v4.port}/n${i}`, { dispatcher: agent });
      expect(res.statusCode).to.equal(200);
      expect(await res.body.text()).to.equal('ok');
      await settle();
    }
    expect(v4.requests).to.have.length(3);
    expect(v4.connections, 'keep-alive reuses one connection').to.equal(1);
    const res6 = await request(`http://[::1]:${v6.port}/`, { dispatcher: agent });
    expect(res6.statusCode).to.equal(200);
    await res6.body.dump();
    expect(v6.requests).to.have.length(1);
  });

  it('refuses plain http when CALLBACK_ALLOW_HTTP is off, even to an allowlisted address (a URL stored before the switch)', async () => {
    const noHttp: EgressPolicy = { ...policy(['127.0.0.0/8']), allowHttp: false };
    await expectBlocked(agentFor(noHttp), `http://127.0.0.1:${v4.port}/`, v4, 'http is not allowed');
  });

  it('an allowlisted 127.0.0.0/8 does not open ::1', async () => {
    await expectBlocked(agentFor(policy(['127.0.0.0/8'])), `http://[::1]:${v6.port}/`, v6, '::1 is loopback');
  });

  it('checks names at connect time: callback.test → 127.0.0.1 is blocked unless allowlisted', async () => {
    const stub = stubLookup({ 'callback.test': [a4('127.0.0.1')] });
    const url = `http://callback.test:${v4.port}/hook`;
    await expectBlocked(agentFor(policy(), stub.lookup), url, v4, 'callback.test resolves to a blocked address: 127.0.0.1 is loopback');

    for (const allow of [['callback.test'], ['127.0.0.0/8']]) {
      const agent = agentFor(policy(allow), stub.lookup);
      const before = stub.calls.get('callback.test') ?? 0;
      for (let i = 0; i < 2; i++) {
        const res = await request(url, { dispatcher: agent, method: 'POST', body: '{}' });
        expect(res.statusCode, allow.join()).to.equal(200);
        await res.body.dump();
        await settle();
      }
      // One lookup per new connection, none for a reused one.
      expect(stub.calls.get('callback.test')).to.equal(before + 1);
    }
    expect(v4.requests).to.deep.equal([
      `POST callback.test:${v4.port} /hook`,
      `POST callback.test:${v4.port} /hook`,
      `POST callback.test:${v4.port} /hook`,
      `POST callback.test:${v4.port} /hook`,
    ]);
  });

  it('DNS rebinding: checkUrl sees a public address, the connection attempt sees loopback and is blocked', async () => {
    // First answer public (checked at submit, never dialled), then loopback.
    const stub = stubLookup({ 'rebind.test': (n) => (n === 1 ? [a4('93.184.216.34')] : [a4('127.0.0.1')]) });
    const url = `http://rebind.test:${v4.port}/`;
    await checkUrl(url, policy(), { lookup: stub.lookup });
    await expectBlocked(agentFor(policy(), stub.lookup), url, v4, 'rebind.test resolves to a blocked address: 127.0.0.1');
    expect(stub.calls.get('rebind.test')).to.equal(2);
  });

  it('a multi-address answer with one blocked address is refused as a whole', async () => {
    const stub = stubLookup({ 'multi.test': [a4('127.0.0.1'), a4('10.0.0.5')] });
    const agent = agentFor(policy(['127.0.0.0/8']), stub.lookup);
    await expectBlocked(agent, `http://multi.test:${v4.port}/`, v4, '10.0.0.5 is private');
  });

  it('never follows redirects: a 302 to the metadata address reaches the caller as a 302', async () => {
    const redirecting = await startServer('127.0.0.1', (_req, res) => {
      res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    try {
      const agent = agentFor(policy(['127.0.0.0/8']));
      const res = await request(`http://127.0.0.1:${redirecting.port}/cb`, { dispatcher: agent, method: 'POST', body: 'x' });
      expect(res.statusCode).to.equal(302);
      expect(res.headers.location).to.equal('http://169.254.169.254/latest/meta-data/');
      await res.body.dump();
      await sleep(50);
      expect(redirecting.requests).to.deep.equal([`POST 127.0.0.1:${redirecting.port} /cb`]);
    } finally {
      await redirecting.close();
    }
  });

  it('verifies TLS even when NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'egress-tls-'));
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    let server: TestServer | undefined;
    try {
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
      const tls = https.createServer(
        { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
        (_req, res) => {
          server?.requests.push('GET');
          res.end('ok');
        },
      );
      server = await listen(tls, '127.0.0.1');
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      const err = await rejection(request(`https://127.0.0.1:${server.port}/`, { dispatcher: agentFor(policy(['127.0.0.0/8'])) }));
      expect((err as NodeJS.ErrnoException).code).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
      expect(server.requests).to.deep.equal([]);
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('egress: createCheckedLookup (the lookup net.connect calls)', () => {
  const call = (
    lookup: ReturnType<typeof createCheckedLookup>,
    options: Parameters<ReturnType<typeof createCheckedLookup>>[1],
  ) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((resolve) => {
      lookup('host.test', options, (err, address, family) => resolve({ err, address, family }));
    });

  it('answers all: true with every judged address, and single lookups with the first of the family', async () => {
    const stub = stubLookup({ 'host.test': [a4('127.0.0.1'), a6('::1')] });
    const lookup = createCheckedLookup(policy(['127.0.0.0/8', '::1/128']), stub.lookup);
    expect((await call(lookup, { all: true })).address).to.deep.equal([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect((await call(lookup, { all: true, family: 6 })).address).to.deep.equal([{ address: '::1', family: 6 }]);
    const single = await call(lookup, {});
    expect([single.address, single.family]).to.deep.equal(['127.0.0.1', 4]);
    const six = await call(lookup, { family: 'IPv6' });
    expect([six.address, six.family]).to.deep.equal(['::1', 6]);
  });

  it('refuses the whole answer when one address is blocked, whatever family was asked for', async () => {
    const stub = stubLookup({ 'host.test': [a4('127.0.0.1'), a6('::1')] });
    const lookup = createCheckedLookup(policy(['127.0.0.0/8']), stub.lookup);
    for (const options of [{ all: true }, { family: 4 }, {}]) {
      const { err } = await call(lookup, options);
      expect(err, JSON.stringify(options)).to.be.instanceOf(DestinationBlockedError);
      expect(err?.message).to.include('::1 is loopback');
    }
  });

  it('passes resolver errors through, and reports an empty family as ENOTFOUND', async () => {
    const none = createCheckedLookup(policy(), stubLookup({}).lookup);
    expect((await call(none, { all: true })).err?.code).to.equal('ENOTFOUND');
    const only4 = createCheckedLookup(policy(['127.0.0.0/8']), stubLookup({ 'host.test': [a4('127.0.0.1')] }).lookup);
    expect((await call(only4, { family: 6 })).err?.code).to.equal('ENOTFOUND');
  });
});
