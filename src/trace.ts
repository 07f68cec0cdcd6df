/**
 * W3C Trace Context (`traceparent`): kept with each task from submit to its
 * callbacks, so a request can be followed across API, worker and receiver.
 */
import { randomUUID } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A valid, normalised traceparent, or null. */
export function parseTraceparent(raw: string | undefined | null): string | null {
  const tp = (raw ?? '').trim().toLowerCase();
  const m = TRACEPARENT.exec(tp);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return tp;
}

/**
 * 32 random hex digits. randomUUID draws from a pre-filled entropy pool, which
 * is much cheaper per call than randomBytes; its 6 fixed version bits leave
 * 122 random bits, plenty for trace and span ids.
 */
function randomHex32(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18) + u.slice(19, 23) + u.slice(24);
}

/** A new root traceparent (sampled). */
export function newTraceparent(): string {
  return `00-${randomHex32()}-${randomHex32().slice(16)}-01`;
}

/** Same trace, new span: what an outgoing request made on behalf of `parent` carries. */
export function childTraceparent(parent: string): string {
  const m = TRACEPARENT.exec(parent);
  if (!m) return newTraceparent();
  return `00-${m[1]}-${randomHex32().slice(16)}-${m[3]}`;
}

/** The trace id part, for logs. */
export function traceId(traceparent: string | undefined | null): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
}
