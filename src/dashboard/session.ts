/**
 * Dashboard sessions: a login exchanges the API key for a random session id
 * (the `th_session` cookie) and a CSRF token. Redis keeps the tenant, the
 * token and the SHA-256 digest of the key that signed in (what a `sha256:`
 * API_KEYS entry holds), under the SHA-256 of the id, so neither the key nor
 * a usable cookie value can be read back from Redis. A session whose key is
 * no longer configured is refused: removing a key from API_KEYS ends its
 * sessions at the next restart, not when their TTL runs out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { Redis } from 'ioredis';
import { TaskhookError } from '../errors.js';
import { tenantOfDigest } from '../api/auth.js';
import { readLimited } from '../api/body.js';

export const SESSION_COOKIE = 'th_session';
export const COOKIE_PATH = '/dashboard';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  tenant: string;
  /** Sent back by the page on every action (header `X-CSRF-Token` or form field `csrf`). */
  csrf: string;
}

export interface SessionStore {
  /** A new session for the key with SHA-256 `keyDigest`; returns the cookie value and the session. */
  create(keyDigest: Buffer): Promise<{ id: string; session: Session }>;
  /** The live session behind a cookie value, or null (also when its key is no longer configured). */
  get(id: string | undefined): Promise<Session | null>;
  destroy(id: string | undefined): Promise<void>;
}

/** `P:sess:{sha256(id)}`: the Redis key of a session. */
export function sessionKey(prefix: string, id: string): string {
  return `${prefix}:sess:${createHash('sha256').update(id).digest('hex')}`;
}

/** `configured`: digests of the keys in API_KEYS (`keyDigests`); a session made with any other key is refused. */
export function createSessionStore(redis: Redis, prefix: string, ttlMs: number, configured: readonly Buffer[]): SessionStore {
  const live = new Set(configured.map((d) => d.toString('hex')));
  return {
    async create(keyDigest) {
      const id = randomBytes(32).toString('base64url');
      const key = keyDigest.toString('hex');
      const session: Session = { tenant: tenantOfDigest(key), csrf: randomBytes(32).toString('base64url') };
      await redis
        .multi()
        .hset(sessionKey(prefix, id), { tenant: session.tenant, csrf: session.csrf, key, created: String(Date.now()) })
        .pexpire(sessionKey(prefix, id), ttlMs)
        .exec();
      return { id, session };
    },
    async get(id) {
      if (id === undefined || !SESSION_ID.test(id)) return null;
      const [tenant, csrf, key] = await redis.hmget(sessionKey(prefix, id), 'tenant', 'csrf', 'key');
      if (!tenant || !csrf) return null;
      // Refused, not deleted: during a rolling restart that adds a key, a process
      // still on the old list must not destroy a session another one just made.
      // Sessions from before keys were recorded carry none: one more sign-in.
      if (!key || !live.has(key)) return null;
      return { tenant, csrf };
    },
    async destroy(id) {
      if (id !== undefined && SESSION_ID.test(id)) await redis.del(sessionKey(prefix, id));
    },
  };
}

/**
 * Sets the session cookie: HttpOnly, SameSite=Strict, scoped to the dashboard;
 * Secure when the request came over https or the API's public URL is https
 * (TLS usually ends at a proxy, and the app trusts no proxy headers).
 */
export function setSessionCookie(ctx: Context, id: string, ttlMs: number, httpsPublic: boolean): void {
  const attrs = [`${SESSION_COOKIE}=${id}`, `Path=${COOKIE_PATH}`, `Max-Age=${Math.floor(ttlMs / 1000)}`, 'HttpOnly', 'SameSite=Strict'];
  if (ctx.secure || httpsPublic) attrs.push('Secure');
  ctx.append('Set-Cookie', attrs.join('; '));
}

export function clearSessionCookie(ctx: Context, httpsPublic: boolean): void {
  const attrs = [`${SESSION_COOKIE}=`, `Path=${COOKIE_PATH}`, 'Max-Age=0', 'HttpOnly', 'SameSite=Strict'];
  if (ctx.secure || httpsPublic) attrs.push('Secure');
  ctx.append('Set-Cookie', attrs.join('; '));
}

/** The session cookie's value, read from the raw header (no cookie library needed for one name). */
export function readSessionCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (presented === undefined || presented.length === 0) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(session.csrf).digest();
  return timingSafeEqual(a, b);
}

export function csrfRejected(): TaskhookError {
  return new TaskhookError('csrf_failed', 'The CSRF token is missing or wrong; reload the dashboard.', { status: 403 });
}

/**
 * Refuses a cross-site POST by its `Origin` (or `Sec-Fetch-Site`) before
 * anything else: the login form has no session, hence no token, to protect it.
 */
export function assertSameOrigin(ctx: Context): void {
  const site = ctx.get('Sec-Fetch-Site');
  if (site !== '' && site !== 'same-origin' && site !== 'none') throw csrfRejected();
  const origin = ctx.get('Origin');
  if (origin === '' || origin === 'null') return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw csrfRejected();
  }
  if (host !== ctx.host) throw csrfRejected();
}

/**
 * Reads a small `application/x-www-form-urlencoded` body: 413 past `maxBytes`,
 * 400 `body_unreadable` when the client goes away mid-upload (the JSON body
 * reader's own stream handling, so an abort is logged as a client error).
 */
export async function readForm(ctx: Context, maxBytes = 4096): Promise<URLSearchParams> {
  if (ctx.request.type.trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw new TaskhookError('unsupported_media_type', 'The form must be application/x-www-form-urlencoded.', { status: 415 });
  }
  return new URLSearchParams((await readLimited(ctx, maxBytes)).toString('utf8'));
}
