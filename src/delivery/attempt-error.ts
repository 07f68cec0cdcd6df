/**
 * What a failed callback attempt is called: its kind, which the retry policy
 * reads, and a short message that never carries the URL's credentials or
 * query (attempt records are shown to users and written to logs).
 */
import { redactUrl } from '../logger.js';

export type AttemptErrorKind = 'none' | 'timeout' | 'connection' | 'blocked' | 'redirect' | 'http';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface FailureContext {
  /** The attempt's own deadline passed. */
  timedOut: boolean;
  timeoutMs: number;
  /** The response status, when headers had arrived. */
  status: number | null;
  url: string;
}

export function classifyError(err: Error, ctx: FailureContext): { kind: Exclude<AttemptErrorKind, 'none' | 'redirect' | 'http'>; message: string } {
  const blocked = findBlocked(err);
  if (blocked) return { kind: 'blocked', message: scrub(blocked.message, ctx.url) };
  if (ctx.timedOut || hasCode(err, TIMEOUT_CODES)) {
    const body = ctx.status === null ? '' : ` (HTTP ${ctx.status} received, body unfinished)`;
    return { kind: 'timeout', message: scrub(`Timed out after ${ctx.timeoutMs} ms${body}`, ctx.url) };
  }
  return { kind: 'connection', message: scrub(describe(err), ctx.url) };
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

