/**
 * API key authentication. Keys arrive as `X-API-Key: <key>` or
 * `Authorization: Bearer <key>`. Every comparison is between SHA-256 digests
 * with `timingSafeEqual`, against every configured key, so neither the key's
 * length nor its position in the list shows in the response time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { UnauthorizedError } from '../errors.js';

/** Tenant ids are this many hex chars of SHA-256(key). */
export const TENANT_ID_LENGTH = 16;
/** Longer presented keys are refused without hashing. */
const MAX_KEY_LENGTH = 1024;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const HEX64 = /^[0-9a-f]{64}$/;

export interface AuthState {
  /** First 16 hex chars of SHA-256(api key): scopes every task to its key. */
  tenant: string;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The tenant id of an API key. */
export function tenantOf(apiKey: string): string {
  return tenantOfDigest(sha256(apiKey).toString('hex'));
}

/** The tenant id of a key's SHA-256 digest (hex): what a `sha256:` entry of API_KEYS or a dashboard session holds. */
export function tenantOfDigest(digestHex: string): string {
  return digestHex.slice(0, TENANT_ID_LENGTH);
}

/**
 * Digests of the configured keys. `sha256:<hex>` entries are taken as given
 * (so the key itself need not be in the environment); others are hashed.
 * Throws on a malformed `sha256:` entry: a typo must not lock everyone out silently.
 */
export function keyDigests(apiKeys: readonly string[]): Buffer[] {
  return apiKeys.map((entry) => {
    if (entry.toLowerCase().startsWith('sha256:')) {
      const hex = entry.slice('sha256:'.length).toLowerCase();
      if (!HEX64.test(hex)) throw new TypeError('API_KEYS: a sha256: entry must be followed by 64 hex digits');
      return Buffer.from(hex, 'hex');
    }
    return sha256(entry);
  });
}

/** The key a request presents, or null when there is none or it is malformed. */
export function presentedKey(headers: { [name: string]: string | string[] | undefined }): string | null {
  const apiKey = headers['x-api-key'];
  if (apiKey !== undefined) return typeof apiKey === 'string' ? apiKey.trim() || null : null;
  const auth = headers.authorization;
  if (typeof auth !== 'string') return null;
  const m = BEARER.exec(auth);
  return m?.[1] ?? null;
}

/** Returns the digest of `key` when it matches one of `digests`, else null. */
export function matchKey(key: string, digests: readonly Buffer[]): Buffer | null {
  if (key.length > MAX_KEY_LENGTH) return null;
  const presented = sha256(key);
  let ok = false;
  // No early exit: every configured digest is compared on every request.
  for (const d of digests) ok = timingSafeEqual(presented, d) || ok;
  return ok ? presented : null;
}

/** Sets `ctx.state.tenant`, or throws one identical 401 for every kind of bad key. */
export function authMiddleware(apiKeys: readonly string[]): Middleware<AuthState> {
  const digests = keyDigests(apiKeys);
  return async (ctx, next) => {
    const key = presentedKey(ctx.headers);
    const digest = key === null ? null : matchKey(key, digests);
    if (digest === null) {
      ctx.set('WWW-Authenticate', 'Bearer realm="taskhook"');
      throw new UnauthorizedError();
    }
    ctx.state.tenant = tenantOfDigest(digest.toString('hex'));
    await next();
  };
}
