/**
 * Subscription signing secrets: `whsec_` + base64 of 32 random bytes, the
 * Standard Webhooks format (the part after `whsec_` is the HMAC key).
 */
import { randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** 256 bits: the HMAC-SHA256 block key length recommended by Standard Webhooks. */
export const SECRET_BYTES = 32;

/** A fresh signing secret. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}
