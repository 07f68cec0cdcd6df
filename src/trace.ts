/**
 * W3C Trace Context (`traceparent`): kept with each task from submit to its
 * callbacks, so a request can be followed across API, worker and receiver.
 */
import { randomFillSync } from 'node:crypto';

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
 * Random ids come from a pool refilled 4 KiB at a time: one CSPRNG call per
 * ~170 spans, and one string per id (an id per callback attempt and per
 * submit showed in allocation profiles when cut out of a UUID).
 */
const pool = Buffer.allocUnsafe(4096);
let poolAt = pool.length;

/** `bytes` random bytes as lowercase hex. */
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

/** A new root traceparent (sampled). */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/** Same trace, new span: what an outgoing request made on behalf of `parent` carries. */
export function childTraceparent(parent: string): string {
  const m = TRACEPARENT.exec(parent);
  if (!m) return newTraceparent();
  return `00-${m[1]}-${randomHex(8)}-${m[3]}`;
}

/** The trace id part, for logs. */
export function traceId(traceparent: string | undefined | null): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
}
