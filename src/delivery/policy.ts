/**
 * The callback retry policy as data, and pure functions over it: what a
 * delivery attempt's result means and when (if ever) to try again. No state,
 * no clock: the dispatcher owns both.
 */
import type { Config } from '../config.js';
import type { AttemptResult } from './send.js';

export interface RetryPolicy {
  /** Retries after the first attempt (so at most maxRetries + 1 attempts). */
  maxRetries: number;
  /** Delay before retry 1; doubles for each further retry. */
  backoffMs: number;
  /** Longest `Retry-After` honoured; longer values are capped to this. */
  retryAfterMaxMs: number;
  /** 4xx statuses worth retrying. 5xx are always retried. */
  retryStatuses: readonly number[];
  /** Explicit delays per retry (overrides the doubling); its length is the retry count. */
  schedule?: readonly number[];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `5s,5m,30m,2h` → [5000, 300000, 1800000, 7200000]; throws on anything else. */
export function parseSchedule(text: string): number[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const m = /^(\d+)(ms|s|m|h|d)$/.exec(part);
      if (!m) throw new RangeError(`"${part}" is not a delay like 500ms, 5s, 5m, 2h or 1d`);
      return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    });
}

/** Subscription deliveries: the callback policy, or WEBHOOK_RETRY_SCHEDULE when set. */
export function subscriptionPolicyFromConfig(
  config: Pick<Config, 'CALLBACK_MAX_RETRIES' | 'CALLBACK_BACKOFF_MS' | 'CALLBACK_RETRY_AFTER_MAX_MS' | 'WEBHOOK_RETRY_SCHEDULE'>,
): RetryPolicy {
  const base = policyFromConfig(config);
  const schedule = parseSchedule(config.WEBHOOK_RETRY_SCHEDULE);
  return schedule.length === 0 ? base : { ...base, maxRetries: schedule.length, schedule };
}

/** Request Timeout and Too Many Requests: the receiver asks us to come back. */
export const DEFAULT_RETRY_STATUSES: readonly number[] = Object.freeze([408, 429]);

export function policyFromConfig(
  config: Pick<Config, 'CALLBACK_MAX_RETRIES' | 'CALLBACK_BACKOFF_MS' | 'CALLBACK_RETRY_AFTER_MAX_MS'>,
): RetryPolicy {
  return {
    maxRetries: config.CALLBACK_MAX_RETRIES,
    backoffMs: config.CALLBACK_BACKOFF_MS,
    retryAfterMaxMs: config.CALLBACK_RETRY_AFTER_MAX_MS,
    retryStatuses: DEFAULT_RETRY_STATUSES,
  };
}

/** Delay before retry `retryNumber` (1-based): backoffMs × 2^(retryNumber − 1). */
export function backoff(policy: RetryPolicy, retryNumber: number): number {
  if (!Number.isInteger(retryNumber) || retryNumber < 1) {
    throw new RangeError(`retryNumber must be an integer >= 1, got ${String(retryNumber)}`);
  }
  const fixed = policy.schedule?.[retryNumber - 1];
  if (fixed !== undefined) return fixed;
  return policy.backoffMs * 2 ** (retryNumber - 1);
}

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed' | 'blocked';

export interface Decision {
  outcome: DeliveryOutcome;
  /** Delay before the next attempt when `outcome` is `retry`; otherwise null. */
  delayMs: number | null;
}

/** Whether a result is worth another attempt (ignoring how many were made). */
export function isRetryable(policy: RetryPolicy, result: AttemptResult): boolean {
  if (result.error_kind === 'timeout' || result.error_kind === 'connection') return true;
  const status = result.status_code;
  if (status === null) return false;
  return (status >= 500 && status <= 599) || policy.retryStatuses.includes(status);
}

/**
 * What to do after attempt `attemptNumber` (1-based) ended with `result`:
 * - 2xx → delivered;
 * - blocked by the egress policy → blocked, never retried (the address will
 *   not become safe by waiting);
 * - connection error, timeout, a `retryStatuses` status or 5xx → retry while
 *   attemptNumber <= maxRetries, after max(backoff, capped Retry-After);
 *   then failed;
 * - any 3xx (redirects are never followed) and any other 4xx → failed at once.
 */
export function decide(policy: RetryPolicy, attemptNumber: number, result: AttemptResult): Decision {
  if (result.error_kind === 'blocked') return { outcome: 'blocked', delayMs: null };
  const status = result.status_code;
  if (result.error_kind === 'none' && status !== null && status >= 200 && status <= 299) {
    return { outcome: 'delivered', delayMs: null };
  }
  if (!isRetryable(policy, result) || attemptNumber > policy.maxRetries) {
    return { outcome: 'failed', delayMs: null };
  }
  const base = backoff(policy, attemptNumber);
  const asked = result.retry_after_ms === null ? 0 : Math.min(result.retry_after_ms, policy.retryAfterMaxMs);
  return { outcome: 'retry', delayMs: Math.max(base, asked) };
}
