import { connect } from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import { silentLogger } from '../../src/logger.js';
import { KEY_A, startApi, type Harness } from './harness.js';

/**
 * A client that goes away half-way through its upload is its own doing: a
 * 400 body_unreadable (nobody reads it) logged at debug, and nothing at
 * error level, on the JSON routes and the dashboard's sign-in form alike.
 */
describe('api: a request body cut off mid-upload', () => {
  const logger = silentLogger();
  let h: Harness;
  before(async () => {
    h = await startApi({}, { logger });
  });
  after(async () => {
    await h.close();
  });
  afterEach(() => sinon.restore());

  /** Sends the head and the start of a 200-byte body, then resets the connection; returns what was logged. */
  async function abortUpload(head: string, partial: string): Promise<{ errors: unknown[][]; rejected?: Record<string, unknown> }> {
    const error = sinon.spy(logger, 'error') as sinon.SinonSpy;
    const debug = sinon.spy(logger, 'debug') as sinon.SinonSpy;
    // winston's overloads hide the (message, meta) calls we make.
    const rejected = (): Record<string, unknown> | undefined =>
      (debug.args as unknown[][]).find((a) => a[0] === 'request rejected')?.[1] as Record<string, unknown> | undefined;
    const { hostname, port } = new URL(h.base);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`${head}Host: x\r\nContent-Length: 200\r\n\r\n${partial}`);
    await new Promise((r) => setTimeout(r, 100));
    socket.resetAndDestroy();
    const deadline = Date.now() + 2000;
    while (!rejected() && !error.called && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Let whatever else the reset causes (the response stream's own error) arrive too.
    await new Promise((r) => setTimeout(r, 100));
    const r = rejected();
    return { errors: error.args as unknown[][], ...(r ? { rejected: r } : {}) };
  }

  it('the dashboard sign-in form', async () => {
    const r = await abortUpload('POST /dashboard/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n', 'api_key=a');
    expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
    expect(r.rejected).to.include({ path: '/dashboard/login', status: 400, code: 'body_unreadable' });
  });

  it('a JSON submit', async () => {
    const r = await abortUpload(`POST /api/v1/tasks HTTP/1.1\r\nContent-Type: application/json\r\nX-API-Key: ${KEY_A}\r\n`, '{"task_ty');
    expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
    expect(r.rejected).to.include({ path: '/api/v1/tasks', status: 400, code: 'body_unreadable' });
  });
});
