/**
 * Remembers the submit-time verdict on a callback URL for a short while.
 *
 * Clients send the same few callback URLs over and over, and checking one
 * costs a URL parse, address classification and, for a host name, a DNS
 * lookup on libuv's small thread pool, once per submitted task. Caching the
 * verdict is safe because it is advisory: every connection the dispatcher
 * opens is judged again against the addresses it actually dials, so a name
 * that starts resolving somewhere blocked within the TTL is still refused at
 * send time. Refusals are remembered too, so a client repeating a blocked
 * URL costs no lookups either. Concurrent checks of one URL share one lookup.
 */
export interface CheckCacheOptions {
  /** How long a verdict is reused; 0 checks every time. */
  ttlMs: number;
  /** Distinct URLs held; the cache is emptied when it is full. */
  max: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

export function cachedCheck(check: (url: string) => Promise<unknown>, opts: CheckCacheOptions): (url: string) => Promise<void> {
  if (opts.ttlMs <= 0) return (url) => check(url).then(() => undefined);
  const now = opts.now ?? Date.now;
  const verdicts = new Map<string, { until: number; verdict: Promise<void> }>();
  return (url) => {
    const t = now();
    const hit = verdicts.get(url);
    if (hit !== undefined && hit.until > t) return hit.verdict;
    const verdict = check(url).then(() => undefined);
    if (verdicts.size >= opts.max) verdicts.clear();
    verdicts.set(url, { until: t + opts.ttlMs, verdict });
    return verdict;
  };
}
