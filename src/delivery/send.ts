/**
 * ONE callback HTTP attempt with undici. Never throws: every outcome,
 * including a refused destination, is an AttemptResult the retry policy reads.
 *
 * One deadline covers connect, headers and body, and at most
 * `maxResponseBytes` of the response body are read before the stream (and
 * with it the socket) is destroyed, so neither a slow nor an endless
 * receiver can hold an attempt or grow memory.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { coerceError } from '../errors.js';
import { redactUrl } from '../logger.js';

export interface AttemptRequest {
  url: string;
  /** The exact bytes that were signed. */
  body: string;
  headers: Record<string, string>;
  /** Normally the guarded egress Agent (SSRF policy in its connector). */
  dispatcher: Dispatcher;
  /** Deadline of the whole attempt: connect, headers and body. */
  timeoutMs: number;
  /** Response bytes read at most; the rest is discarded with the socket. */
  maxResponseBytes: number;
}

export type AttemptErrorKind = 'none' | 'timeout' | 'connection' | 'blocked' | 'redirect' | 'http';

export interface AttemptResult {
  /** The response status, when headers arrived (even if the body then timed out). */
  status_code: number | null;
  duration_ms: number;
  /** A short, URL-safe description of what went wrong; null on 2xx. */
  error: string | null;
  error_kind: AttemptErrorKind;
  /** `Retry-After` (seconds or HTTP-date) in ms from now; null when absent or unparseable. */
  retry_after_ms: number | null;
  /** The first ≤ 4 KiB of the response body as text. */
  response_excerpt: string;
  /** A small, safe subset of the response headers (`location` redacted). */
  response_headers: Record<string, string>;
}

const EXCERPT_BYTES = 4096;
const KEPT_HEADERS = ['content-type', 'content-length', 'retry-after', 'location', 'x-request-id'] as const;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export async function sendAttempt(req: AttemptRequest): Promise<AttemptResult> {
  const started = performance.now();
  const deadline = new Deadline();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort(new Error(`Callback attempt timed out after ${req.timeoutMs} ms`));
  }, req.timeoutMs);

  let status: number | null = null;
  let headers: Record<string, string> = {};
  let retryAfter: number | null = null;
  let excerpt = '';
  try {
    const res = await request(req.url, {
      method: 'POST',
      dispatcher: req.dispatcher,
      body: req.body,
      headers: req.headers,
      signal: deadline,
    });
    status = res.statusCode;
    headers = keptHeaders(res.headers, req.url);
    retryAfter = parseRetryAfter(headers['retry-after'], Date.now());
    excerpt = await readExcerpt(res.body, req.maxResponseBytes);
    const base = { status_code: status, duration_ms: elapsed(started), retry_after_ms: retryAfter };
    const rest = { response_excerpt: excerpt, response_headers: headers };
    if (status >= 200 && status <= 299) return { ...base, error: null, error_kind: 'none', ...rest };
    if (status >= 300 && status <= 399) {
      const to = headers.location === undefined ? '' : ` to ${headers.location}`;
      return { ...base, error: `HTTP ${status}: redirect${to} not followed`, error_kind: 'redirect', ...rest };
    }
    return { ...base, error: `HTTP ${status}`, error_kind: 'http', ...rest };
  } catch (thrown) {
    const err = coerceError(thrown);
    const blocked = findBlocked(err);
    const kind: AttemptErrorKind = blocked
      ? 'blocked'
      : timedOut || hasCode(err, TIMEOUT_CODES)
        ? 'timeout'
        : 'connection';
    const message =
      kind === 'timeout'
        ? `Timed out after ${req.timeoutMs} ms${status === null ? '' : ` (HTTP ${status} received, body unfinished)`}`
        : blocked
          ? blocked.message
          : describe(err);
    return {
      status_code: status,
      duration_ms: elapsed(started),
      error: scrub(message, req.url),
      error_kind: kind,
      retry_after_ms: retryAfter,
      response_excerpt: excerpt,
      response_headers: headers,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An attempt's deadline in the EventEmitter form undici accepts as `signal`:
 * an AbortController per attempt (an EventTarget and its listener plumbing)
 * was ~3% of a busy worker's CPU.
 */
class Deadline extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Reads at most `max` bytes, then destroys the stream: undici then drops the
 * socket instead of draining an arbitrarily large body into it. Plain stream
 * events, not `for await`: the async iterator and its end-of-stream plumbing
 * were most of what one attempt allocated.
 */
function readExcerpt(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  // undici's body emits an AbortError when destroyed early: expected here.
  const discard = (): void => void body.on('error', () => {}).destroy();
  if (max <= 0) {
    discard();
    return Promise.resolve('');
  }
  const keep = Math.min(max, EXCERPT_BYTES);
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 0 ? '' : UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    };
    const onData = (chunk: Buffer): void => {
      if (kept < keep) {
        const piece = chunk.subarray(0, keep - kept);
        chunks.push(piece);
        kept += piece.length;
      }
      total += chunk.length;
      if (total >= max) {
        finish();
        discard();
      }
    };
    // A complete read leaves the stream alone: the connection is kept alive then.
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(err);
    const onClose = (): void => finish(new Error('response body closed before its end'));
    body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}

function keptHeaders(raw: Dispatcher.ResponseData['headers'], url: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = raw[name];
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value !== 'string') continue;
    out[name] = name === 'location' ? redactLocation(value, url) : value.slice(0, 256);
  }
  return out;
}

/** Redirect targets are as likely as callback URLs to carry tokens. */
function redactLocation(location: string, base: string): string {
  try {
    return redactUrl(new URL(location, base).href);
  } catch {
    return '[invalid url]';
  }
}

/** `Retry-After` as delta-seconds or an HTTP-date, in ms from `nowMs`. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP-dates always name a weekday and GMT; Date.parse alone accepts much more.
  if (!/GMT$/.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The egress guard throws `destination_blocked` inside the connector; undici may wrap it. */
function findBlocked(err: unknown): Error | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === 'destination_blocked') return e;
    if (e instanceof AggregateError) {
      for (const inner of e.errors) {
        const found = findBlocked(inner);
        if (found) return found;
      }
    }
  }
  return null;
}

function hasCode(err: unknown, codes: Set<string>): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
  }
  return false;
}

function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error && err.cause.message !== err.message ? ` (${err.cause.message})` : '';
  const prefix = typeof code === 'string' && !err.message.includes(code) ? `${code}: ` : '';
  return `${prefix}${err.message || err.name}${cause}`.slice(0, 500);
}

/** Removes the URL's credentials and query from a message, wherever they appear. */
function scrub(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  try {
    const u = new URL(url);
    for (const secret of [u.search, u.username, u.password, u.hash]) {
      if (secret.length > 1) out = out.split(secret).join('[redacted]');
    }
  } catch {
    // Not a URL: the request failed before it could mention one.
  }
  return out;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
