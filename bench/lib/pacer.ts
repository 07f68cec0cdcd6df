/**
 * An open-loop pacer: calls `fire(scheduledAt)` `rate` times a second for
 * `durationMs`, on schedule whether or not earlier calls have finished, so a
 * slow system under test cannot slow the offered load (no coordinated
 * omission: latency is measured from the scheduled time).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from './clock.js';

export async function pace(rate: number, durationMs: number, fire: (scheduledAt: number) => void): Promise<{ sent: number; lagMaxMs: number }> {
  const start = nowMs();
  const total = Math.floor((rate * durationMs) / 1000);
  const interval = 1000 / rate;
  let sent = 0;
  let lagMaxMs = 0;
  while (sent < total) {
    const now = nowMs();
    const due = Math.min(total, Math.floor((now - start) / interval) + 1);
    while (sent < due) {
      const at = start + sent * interval;
      lagMaxMs = Math.max(lagMaxMs, now - at);
      fire(at);
      sent += 1;
    }
    // ~1 ms timer granularity: fire in small bursts rather than spin.
    await sleep(1);
  }
  return { sent, lagMaxMs };
}
