/**
 * `verifyCallback` for Node receivers: checks a callback's Standard Webhooks
 * signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) against
 * the raw body, before the body is parsed.
 *
 * `x-webhook-signature` is not consulted, and a request carrying only it is
 * refused. It covers neither the message id nor a timestamp, so it cannot stop
 * a replay, and taskhook always sends the Standard Webhooks headers: a request
 * without them has been stripped on the way. It also carries the current
 * secret only, so while a secret is being rotated a receiver still holding the
 * previous one can verify `webhook-signature` (which then carries one
 * signature per secret) but not `x-webhook-signature`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureVerificationError } from '../errors.js';
import { standardWebhooksKey } from './sign.js';

export type CallbackHeaders = Record<string, string | string[] | undefined> | Headers;

export interface VerifyOptions {
  /**
   * Largest accepted distance, in seconds, between `webhook-timestamp` and
   * `now`, in either direction (old replays and clocks running ahead).
   * @default 300
   */
  toleranceS?: number;
  /** The receiver's clock. @default new Date() */
  now?: Date;
}

export interface VerifiedCallback {
  /** `webhook-id`: the same across retries of one outcome; deduplicate on it. */
  id: string;
  /** `webhook-timestamp`, seconds since the epoch. */
  timestamp: number;
}

const DEFAULT_TOLERANCE_S = 300;

/** Throws SignatureVerificationError unless the callback is authentic and fresh. */
export function verifyCallback(
  rawBody: string | Buffer,
  headers: CallbackHeaders,
  secret: string,
  options: VerifyOptions = {},
): VerifiedCallback {
  if (secret.length === 0) throw new TypeError('verifyCallback: the secret must not be empty');
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const get = headerReader(headers);

  const id = get('webhook-id');
  const ts = get('webhook-timestamp');
  const sigs = get('webhook-signature');

  if (id === undefined && ts === undefined && sigs === undefined) {
    throw new SignatureVerificationError(
      get('x-webhook-signature') === undefined
        ? 'No signature headers: expected webhook-id, webhook-timestamp and webhook-signature'
        : 'x-webhook-signature alone is not accepted (it has no timestamp, so it cannot stop replays): expected webhook-id, webhook-timestamp and webhook-signature',
    );
  }
  if (id === undefined || ts === undefined || sigs === undefined) {
    throw new SignatureVerificationError(
      'Incomplete Standard Webhooks headers: webhook-id, webhook-timestamp and webhook-signature are all required',
    );
  }
  const timestamp = checkTimestamp(ts, options);
  const mac = createHmac('sha256', standardWebhooksKey(secret));
  mac.update(`${id}.${ts}.`, 'utf8');
  mac.update(body);
  const expected = mac.digest('base64');
  // Several signatures may be offered (secret rotation); any one may match.
  // Split on whitespace; a trailing comma is what Headers#get leaves when the
  // header was repeated (values joined with ", ").
  const offered = sigs
    .split(/\s+/)
    .map((s) => s.replace(/,$/, ''))
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  if (!offered.some((sig) => safeEqual(sig, expected))) {
    throw new SignatureVerificationError('webhook-signature does not match the body (no matching v1 signature)');
  }
  return { id, timestamp };
}

function checkTimestamp(raw: string, options: VerifyOptions): number {
  if (!/^\d{1,15}$/.test(raw)) {
    throw new SignatureVerificationError(`webhook-timestamp must be whole seconds since the epoch, got "${raw.slice(0, 32)}"`);
  }
  const timestamp = Number(raw);
  const tolerance = options.toleranceS ?? DEFAULT_TOLERANCE_S;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (now - timestamp > tolerance) {
    throw new SignatureVerificationError(
      `webhook-timestamp is too old: ${now - timestamp} s in the past (tolerance ${tolerance} s)`,
    );
  }
  if (timestamp - now > tolerance) {
    throw new SignatureVerificationError(
      `webhook-timestamp is too far in the future: ${timestamp - now} s ahead (tolerance ${tolerance} s)`,
    );
  }
  return timestamp;
}

/** Constant-time for equal lengths; a length mismatch leaks only the length. */
function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Case-insensitive header lookup over a Fetch `Headers` or a Node headers object. */
function headerReader(headers: CallbackHeaders): (name: string) => string | undefined {
  if (typeof (headers as Headers).get === 'function') {
    const h = headers as Headers;
    return (name) => h.get(name) ?? undefined;
  }
  const lower = new Map<string, string | string[]>();
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (v !== undefined) lower.set(k.toLowerCase(), v);
  }
  return (name) => {
    const v = lower.get(name);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    // A repeated header: signatures may be split over several lines; any other
    // header must not carry two different values.
    if (name === 'webhook-signature') return v.join(' ');
    const distinct = [...new Set(v)];
    if (distinct.length > 1) throw new SignatureVerificationError(`Conflicting values for the ${name} header`);
    return distinct[0];
  };
}
