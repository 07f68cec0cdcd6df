/**
 * What the dispatcher needs to send to a subscription endpoint: its signer
 * (the current secret, plus the previous one during the rotation overlap),
 * custom headers and whether it is still active. Cached for a few seconds.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { createSigner, type Signer } from './sign.js';

export interface Endpoint {
  signer: Signer;
  headers: Record<string, string>;
  active: boolean;
}

export interface EndpointDirectory {
  /** `null` when the subscription no longer exists. */
  get(subId: string): Promise<Endpoint | null>;
}

export function createEndpointDirectory(redis: Redis, keys: Keys, ttlMs = 2000): EndpointDirectory {
  const cache = new Map<string, { at: number; value: Promise<Endpoint | null> }>();
  const load = async (id: string): Promise<Endpoint | null> => {
    const [secret, prev, prevUntil, headers, active] = await redis.hmget(keys.webhook(id), 'secret', 'prev_secret', 'prev_until', 'headers', 'active');
    if (!secret) return null;
    const overlap = prev && Number(prevUntil ?? 0) > Date.now() ? prev : undefined;
    let custom: Record<string, string> = {};
    try {
      custom = headers ? (JSON.parse(headers) as Record<string, string>) : {};
    } catch {
      custom = {};
    }
    return { signer: createSigner(secret, overlap ? { previous: overlap } : {}), headers: custom, active: active === '1' };
  };
  return {
    get(id) {
      const now = Date.now();
      let entry = cache.get(id);
      if (!entry || now - entry.at > ttlMs) {
        entry = { at: now, value: load(id) };
        entry.value.catch(() => cache.delete(id));
        cache.set(id, entry);
        if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
      }
      return entry.value;
    },
  };
}
