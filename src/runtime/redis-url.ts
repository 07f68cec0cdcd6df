/** Pure helpers over REDIS_URL: how to print it, and whether `npm start` may run its own Redis for it. */

const MASK = '***';

/**
 * REDIS_URL as it may be printed (messages, logs): the password, in the
 * user info or in ioredis's `?password=` parameter, becomes `***`. The user
 * name stays: it helps to see which user was refused, and is no secret.
 */
export function maskRedisUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Not a URL (config validation refuses those): hide any user info outright.
    return raw.replace(/\/\/[^/?#]*@/, `//${MASK}@`);
  }
  const inQuery = u.searchParams.has('password');
  // Unchanged when there is nothing to hide: no re-serialisation surprises.
  if (u.password === '' && !inQuery) return raw;
  if (u.password !== '') u.password = MASK;
  if (inQuery) u.searchParams.set('password', MASK);
  return u.href;
}

/**
 * The loopback address a private redis-server for `url` must listen on, or
 * null when the URL is not local. `localhost` gets 127.0.0.1: Node tries both
 * address families for a name (autoSelectFamily), not for an IP literal.
 */
export function localRedisHost(url: string): '127.0.0.1' | '::1' | null {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return null;
  }
  if (host === '127.0.0.1' || host === 'localhost') return '127.0.0.1';
  if (host === '[::1]') return '::1';
  return null;
}
