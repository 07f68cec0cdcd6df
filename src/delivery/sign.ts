/**
 * Callback signatures over the exact bytes sent, with node:crypto (native
 * HMAC; the `standardwebhooks` package is pure JS and too slow for the hot
 * path, so it only serves as the reference verifier in tests).
 *
 * Two schemes ride on every callback:
 * - `x-webhook-signature: sha256=<hex>`: HMAC-SHA256 of the raw body keyed
 *   by the UTF-8 bytes of the secret string exactly as configured (what
 *   existing receivers compute, e.g. Python
 *   `hmac.new(secret.encode(), body, sha256).hexdigest()`).
 * - Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 *   `webhook-signature: v1,<base64>`): HMAC-SHA256 of `{id}.{timestamp}.{body}`
 *   keyed by the base64-decoded part after `whsec_`. A secret without the
 *   `whsec_` prefix is used as its raw UTF-8 bytes instead.
 */
import { createHmac } from 'node:crypto';
import { USER_AGENT } from '../version.js';

export interface Signer {
  /** Every header of one callback request (lower-case names). */
  headers(msgId: string, timestampSec: number, body: string): Record<string, string>;
}

export interface SignerOptions {
  /**
   * The secret being rotated out. While set, `webhook-signature` carries a
   * signature under each secret (`v1,<new> v1,<old>`), so receivers that
   * still hold the old one keep verifying. `x-webhook-signature` has room for
   * one signature only and uses the current secret.
   */
  previous?: string;
}

const WHSEC_PREFIX = 'whsec_';

/**
 * The Standard Webhooks key of a secret: the base64 after `whsec_`, or the
 * raw UTF-8 bytes of a secret without the prefix.
 */
export function standardWebhooksKey(secret: string): Buffer {
  if (!secret.startsWith(WHSEC_PREFIX)) return Buffer.from(secret, 'utf8');
  const b64 = secret.slice(WHSEC_PREFIX.length);
  // Buffer.from(…, 'base64') silently skips junk and a dangling last
  // character (length ≡ 1 mod 4 is never base64); refuse both, since a typo
  // would otherwise produce signatures no receiver can verify.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError('Webhook secret: the part after "whsec_" must be base64');
  }
  return Buffer.from(b64, 'base64');
}

/** `v1,<base64>` for one key. */
function standardSignature(key: Buffer, msgId: string, timestampSec: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${msgId}.${timestampSec}.${body}`, 'utf8').digest('base64')}`;
}

export function createSigner(secret: string, options: SignerOptions = {}): Signer {
  if (secret.length === 0) throw new TypeError('Webhook secret must not be empty');
  // Decoded once here: headers() runs for every attempt of every callback.
  const legacyKey = Buffer.from(secret, 'utf8');
  const keys = [standardWebhooksKey(secret)];
  if (options.previous !== undefined && options.previous.length > 0 && options.previous !== secret) {
    keys.push(standardWebhooksKey(options.previous));
  }
  return {
    headers(msgId, timestampSec, body) {
      if (!Number.isInteger(timestampSec)) throw new TypeError('timestampSec must be an integer (seconds)');
      return {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-webhook-signature': `sha256=${createHmac('sha256', legacyKey).update(body, 'utf8').digest('hex')}`,
        'webhook-id': msgId,
        'webhook-timestamp': String(timestampSec),
        'webhook-signature': keys.map((k) => standardSignature(k, msgId, timestampSec, body)).join(' '),
      };
    },
  };
}
