/**
 * Ids heard of lately, each forgotten after a while: the cancel requests a
 * worker hears for runs it does not hold (yet). Every worker hears every
 * cancel, most of them for other workers' tasks, so the set is bounded by
 * age and by size (the oldest go first).
 */
export interface RecentIds {
  add(id: string): void;
  /** Whether `id` was heard within the time-to-live; it is forgotten either way. */
  take(id: string): boolean;
}

export function recentIds(ttlMs: number, max: number): RecentIds {
  const heard = new Map<string, number>(); // id → when, in insertion order
  return {
    add(id) {
      const now = Date.now();
      for (const [k, at] of heard) {
        if (at > now - ttlMs && heard.size < max) break;
        heard.delete(k);
      }
      heard.delete(id);
      heard.set(id, now);
    },
    take(id) {
      const at = heard.get(id);
      if (at === undefined) return false;
      heard.delete(id);
      return at > Date.now() - ttlMs;
    },
  };
}
