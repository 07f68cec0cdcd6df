/**
 * `taskhook listen`: a local receiver for callbacks and subscription events,
 * like `stripe listen`. Prints one line per request (time, event, task id,
 * latency, signature ✓/✗/?), answers 204 (401 on a bad signature), and can
 * forward what it accepted to your app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { verifyCallback } from '../delivery/verify.js';
import { standardWebhooksKey } from '../delivery/sign.js';
import { coerceError } from '../errors.js';
import { EXIT_OK, intFlag, parseFlags, usageError, type CliIo } from './io.js';

export const LISTEN_HELP = `Usage: taskhook listen [options]

Runs a local receiver and prints one line per callback or event as it
arrives: time, event, task id, latency (now minus the payload's
completed_at / failed_at / timestamp) and the signature check:
✓ valid, ✗ invalid (answered 401), ? not checked (no secret).

Options:
  --port N             port to listen on (default 4000; 0 picks a free one)
  --host ADDR          address to listen on (default 127.0.0.1)
  --secret whsec_…     signing secret to verify with (env WEBHOOK_SECRET)
  --forward-to URL     forward accepted requests (raw body and signature
                       headers) to URL and answer with its status
  --json               print each request as one JSON line
  -h, --help           this help

Point callback_url at http://127.0.0.1:4000/ (any path). Stop with Ctrl-C.
`;

/** Callbacks are small; anything bigger is not one of ours. */
const MAX_BODY_BYTES = 1_048_576;
/**
 * A body over MAX_BODY_BYTES is read to its end and dropped before the 413,
 * up to this much in all: closing a socket with unread data resets the
 * connection, and a client still sending would see the reset, not the 413.
 * Past this the connection is cut.
 */
const DISCARD_MAX_BYTES = 16 * MAX_BODY_BYTES;
/** Same deadline taskhook gives a receiver, so a slow app looks the same through the listener. */
const FORWARD_TIMEOUT_MS = 30_000;
/** The request headers a receiver needs to verify and parse a callback. */
const FORWARDED_HEADERS = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'x-webhook-signature'];

export interface ListenerOptions {
  port: number;
  host: string;
  /** Verify signatures with this secret; none = accept everything, shown as `?`. */
  secret?: string;
  forwardTo?: string;
  json: boolean;
}

/** One request as the listener saw it (also the `--json` line). */
export interface ListenEvent {
  time: string;
  event: string | null;
  task_id: string | null;
  webhook_id: string | null;
  latency_ms: number | null;
  signature: 'valid' | 'invalid' | 'unchecked';
  /** Why the signature was refused. */
  error?: string;
  /** Status the forward target answered (or 502 when unreachable). */
  forward_status?: number;
  forward_error?: string;
}

export interface Listener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function runListen(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    secret: { type: 'string' },
    'forward-to': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(LISTEN_HELP);
    return EXIT_OK;
  }
  const secret = values.secret ?? (io.env.WEBHOOK_SECRET || undefined);
  if (secret !== undefined) {
    try {
      standardWebhooksKey(secret);
    } catch (err) {
      throw usageError(`--secret: ${coerceError(err).message}`);
    }
  }
  const forwardTo = values['forward-to'];
  if (forwardTo !== undefined && !/^https?:\/\/[^\s]+$/.test(forwardTo)) throw usageError(`--forward-to must be an http(s) URL, got "${forwardTo}"`);
  const listener = await startListener(
    { port: values.port === undefined ? 4000 : intFlag('port', values.port, 0, 65535), host: values.host ?? '127.0.0.1', secret, forwardTo, json: values.json === true },
    io,
  );
  io.stderr.write(
    `Ready: listening on ${listener.url}/ (signatures ${secret === undefined ? 'not checked: no --secret' : 'checked'})` +
      `${forwardTo === undefined ? '' : `, forwarding to ${forwardTo}`}. Ctrl-C to stop.\n`,
  );
  await io.interrupted();
  await listener.close();
  return EXIT_OK;
}

/** Starts the receiver; every request is printed to `io.stdout`. */
export async function startListener(opts: ListenerOptions, io: Pick<CliIo, 'stdout'>): Promise<Listener> {
  const server = http.createServer((req, res) => {
    handle(req, res, opts, io).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end();
      io.stdout.write(`listener error: ${coerceError(err).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`,
    port: addr.port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, opts: ListenerOptions, io: Pick<CliIo, 'stdout'>): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const raw = await readBody(req);
  if (raw === null) {
    if (!req.socket.destroyed) {
      res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`Request body over ${MAX_BODY_BYTES} bytes.\n`);
    }
    return;
  }
  const seen = describe(raw, req.headers, opts.secret, new Date());
  if (seen.signature === 'invalid') {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: seen.error }));
  } else if (opts.forwardTo !== undefined) {
    const fwd = await forward(opts.forwardTo, raw, req.headers);
    seen.forward_status = fwd.status;
    if (fwd.error !== undefined) seen.forward_error = fwd.error;
    // Answer with the app's status, so taskhook retries exactly as it would against the app itself.
    res.writeHead(fwd.status).end();
  } else {
    res.writeHead(204).end();
  }
  io.stdout.write(`${opts.json ? JSON.stringify(seen) : formatEvent(seen)}\n`);
}

/** The whole body; null when it is over MAX_BODY_BYTES (then read to its end and dropped, or cut off past DISCARD_MAX_BYTES). */
function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DISCARD_MAX_BYTES) {
        req.socket.destroy();
        resolve(null);
      } else if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** What one request was: fields from the payload (a callback or an event envelope) and the signature check. Pure. */
export function describe(raw: Buffer, headers: http.IncomingHttpHeaders, secret: string | undefined, now: Date): ListenEvent {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    /* shown with empty fields */
  }
  const data = body.data !== null && typeof body.data === 'object' ? (body.data as Record<string, unknown>) : {};
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const at = str(body.completed_at) ?? str(body.failed_at) ?? str(body.cancelled_at) ?? str(body.timestamp);
  const atMs = at === null ? NaN : Date.parse(at);
  const seen: ListenEvent = {
    time: now.toISOString(),
    event: str(body.event) ?? str(body.type),
    task_id: str(body.task_id) ?? str(data.task_id),
    webhook_id: str(headers['webhook-id']),
    latency_ms: Number.isNaN(atMs) ? null : now.getTime() - atMs,
    signature: 'unchecked',
  };
  if (secret !== undefined) {
    try {
      verifyCallback(raw, headers, secret, { now });
      seen.signature = 'valid';
    } catch (err) {
      seen.signature = 'invalid';
      seen.error = coerceError(err).message;
    }
  }
  return seen;
}

const MARK = { valid: '✓', invalid: '✗', unchecked: '?' } as const;

/** One human line: `12:00:00.123  task.completed    <task id>  42 ms  ✓  → 200`. Pure. */
export function formatEvent(e: ListenEvent): string {
  const time = e.time.slice(11, 23);
  const latency = e.latency_ms === null ? '-' : `${e.latency_ms} ms`;
  let line = `${time}  ${(e.event ?? '-').padEnd(16)}  ${(e.task_id ?? '-').padEnd(36)}  ${latency.padStart(9)}  ${MARK[e.signature]}`;
  if (e.error !== undefined) line += `  ${e.error}`;
  if (e.forward_status !== undefined) line += `  → ${e.forward_status}${e.forward_error === undefined ? '' : ` (${e.forward_error})`}`;
  return line;
}

async function forward(url: string, raw: Buffer, headers: http.IncomingHttpHeaders): Promise<{ status: number; error?: string }> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = headers[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(name === 'webhook-signature' ? ' ' : ', ') : v;
  }
  try {
    const res = await request(url, { method: 'POST', headers: out, body: raw, headersTimeout: FORWARD_TIMEOUT_MS, bodyTimeout: FORWARD_TIMEOUT_MS });
    await res.body.dump();
    return { status: res.statusCode };
  } catch (err) {
    const e = coerceError(err);
    return { status: 502, error: (e as { code?: string }).code ?? e.message };
  }
}
