/**
 * Which subscriptions want an event: read per tenant from Redis and cached
 * briefly, so the hot path costs no round trip for tenants that have none.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { parseJsonOr } from '../store/fields.js';

export interface SubscriptionTarget {
  id: string;
  url: string;
  events: string[];
  taskTypes: string[] | null;
  projectId: string | null;
}

export interface SubscriptionMatcher {
  matching(tenant: string, event: string, taskType: string, projectId: string | null): Promise<SubscriptionTarget[]>;
}

/** Pure: does a subscription want this event for this task? */
export function wants(s: SubscriptionTarget, event: string, taskType: string, projectId: string | null): boolean {
  if (!s.events.includes('*') && !s.events.includes(event)) return false;
  if (s.taskTypes && !s.taskTypes.includes(taskType)) return false;
  if (s.projectId && s.projectId !== projectId) return false;
  return true;
}

export function createSubscriptionMatcher(redis: Redis, keys: Keys, ttlMs = 1000): SubscriptionMatcher {
  const cache = new Map<string, { at: number; subs: Promise<SubscriptionTarget[]> }>();

  const load = async (tenant: string): Promise<SubscriptionTarget[]> => {
    const ids = await redis.zrange(keys.tenantWebhooks(tenant), 0, -1);
    if (ids.length === 0) return [];
    const pipe = redis.pipeline();
    for (const id of ids) pipe.hmget(keys.webhook(id), 'url', 'events', 'filter', 'active');
    const rows = (await pipe.exec()) ?? [];
    const out: SubscriptionTarget[] = [];
    rows.forEach(([err, row], i) => {
      const [url, events, filter, active] = (row ?? []) as (string | null)[];
      if (err || !url || active !== '1') return;
      const f = parseJsonOr<{ task_types?: string[]; project_id?: string }>(filter, {});
      out.push({
        id: ids[i] as string,
        url,
        events: parseJsonOr<string[]>(events, []),
        taskTypes: f.task_types && f.task_types.length > 0 ? f.task_types : null,
        projectId: f.project_id ?? null,
      });
    });
    return out;
  };

  return {
    async matching(tenant, event, taskType, projectId) {
      const now = Date.now();
      let entry = cache.get(tenant);
      if (!entry || now - entry.at > ttlMs) {
        entry = { at: now, subs: load(tenant) };
        entry.subs.catch(() => cache.delete(tenant));
        cache.set(tenant, entry);
        if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
      }
      return (await entry.subs).filter((s) => wants(s, event, taskType, projectId));
    },
  };
}
