/**
 * ONE callback HTTP attempt with undici. Never throws: every outcome,
 * including a refused destination, is an AttemptResult the retry policy reads.
 *
 * One deadline covers the wait for a connection, connect, headers and body,
 * and at most `maxResponseBytes` of the response body are read before the
 * request (and with it the socket) is aborted, so neither a slow nor an
 * endless receiver can hold an attempt or grow memory.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { coerceError } from '../errors.js';
import { classifyError, type AttemptErrorKind } from './attempt-error.js';
import { urlMemo } from './url-cache.js';
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

export type { AttemptErrorKind };

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

export function sendAttempt(req: AttemptRequest): Promise<AttemptResult> {
  return new Promise((resolve) => new Attempt(req, resolve).start());
}

/** Why an attempt stopped reading on its own (never reported: the attempt has ended by then). */
const ENOUGH = new Error('callback attempt ended by the sender');

/**
 * One attempt as an undici dispatch handler. `request()` wraps every
 * response in a Readable stream, an AsyncResource, a promise and an
 * abort-signal listener; a callback needs only the status, five headers and
 * at most 4 KiB of body, and that plumbing was the largest share of undici's
 * ~12% of a busy worker's CPU.
 *
 * The attempt ends (resolves) exactly once: at the response's end, at the
 * read limit, at the deadline or at the first error. Whatever undici reports
 * after that is ignored; the request is aborted, which destroys its socket,
 * whenever it is still running.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private readonly keep: number;
  private timer: NodeJS.Timeout | undefined;
  private controller: Dispatcher.DispatchController | null = null;
  private done = false;
  private timedOut = false;
  private status: number | null = null;
  private headers: Record<string, string> = {};
  private retryAfter: number | null = null;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(
    private readonly req: AttemptRequest,
    private readonly resolve: (result: AttemptResult) => void,
  ) {
    this.keep = Math.max(0, Math.min(req.maxResponseBytes, EXCERPT_BYTES));
  }

  start(): void {
    const target = targetOf(this.req.url);
    if (target === null) {
      this.fail(new Error('Invalid callback URL (http or https expected)'));
      return;
    }
    this.timer = setTimeout(() => this.onDeadline(), this.req.timeoutMs);
    try {
      // Errors (invalid headers, a closed agent) normally arrive through onResponseError.
      this.req.dispatcher.dispatch(
        { origin: target.origin, path: target.path, method: 'POST', body: this.req.body, headers: this.req.headers },
        this,
      );
    } catch (thrown) {
      this.fail(coerceError(thrown));
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Ended while queued for a connection (the deadline passed): never send it.
    if (this.done) controller.abort(ENOUGH);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.done || statusCode < 200) return;
    this.status = statusCode;
    this.headers = keptHeaders(headers, this.req.url);
    this.retryAfter = parseRetryAfter(this.headers['retry-after'], Date.now());
    if (this.req.maxResponseBytes <= 0) this.stopReading(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (this.kept < this.keep) {
      const piece = chunk.subarray(0, this.keep - this.kept);
      this.chunks.push(piece);
      this.kept += piece.length;
    }
    this.total += chunk.length;
    if (this.total >= this.req.maxResponseBytes) this.stopReading(controller);
  }

  /** A complete read leaves the connection alone: it is kept alive. */
  onResponseEnd(): void {
    this.answered();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.fail(err);
  }

  /**
   * Enough of the body was read: the attempt ends, and the socket is dropped
   * rather than an arbitrarily large body drained into it.
   */
  private stopReading(controller: Dispatcher.DispatchController): void {
    this.answered();
    controller.abort(ENOUGH);
  }

  private onDeadline(): void {
    this.timedOut = true;
    this.fail(new Error(`Callback attempt timed out after ${this.req.timeoutMs} ms`));
    this.controller?.abort(ENOUGH);
  }

  private answered(): void {
    const status = this.status;
    if (this.done || status === null) return;
    let error: string | null = null;
    let kind: AttemptErrorKind = 'none';
    if (status >= 300 && status <= 399) {
      const to = this.headers.location === undefined ? '' : ` to ${this.headers.location}`;
      error = `HTTP ${status}: redirect${to} not followed`;
      kind = 'redirect';
    } else if (status >= 400) {
      error = `HTTP ${status}`;
      kind = 'http';
    }
    // One literal, not spreads of partial objects: this runs for every callback.
    this.end({
      status_code: status,
      duration_ms: elapsed(this.started),
      error,
      error_kind: kind,
      retry_after_ms: this.retryAfter,
      response_excerpt: this.chunks.length === 0 ? '' : UTF8.decode(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)),
      response_headers: this.headers,
    });
  }

  private fail(err: Error): void {
    if (this.done) return;
    const { kind, message } = classifyError(err, { timedOut: this.timedOut, timeoutMs: this.req.timeoutMs, status: this.status, url: this.req.url });
    this.end({
      status_code: this.status,
      duration_ms: elapsed(this.started),
      error: message,
      error_kind: kind,
      retry_after_ms: this.retryAfter,
      response_excerpt: '',
      response_headers: this.headers,
    });
  }

  private end(result: AttemptResult): void {
    this.done = true;
    clearTimeout(this.timer);
    this.chunks.length = 0;
    this.resolve(result);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/** Where undici sends a URL: its origin and its path with the query (never the fragment or credentials). */
const targetOf = urlMemo((u) => (u.protocol === 'http:' || u.protocol === 'https:' ? { origin: u.origin, path: `${u.pathname}${u.search}` } : null));

function keptHeaders(raw: IncomingHttpHeaders, url: string): Record<string, string> {
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

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
