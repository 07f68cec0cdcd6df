/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every bench
 * process stamps events with this, so times from the load generator, the
 * receiver and the worker payload (`completed_at`) can be subtracted.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
