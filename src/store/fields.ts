/**
 * Reading values back from Redis hash fields, for the pure renderers of API
 * views: a stored field may be missing, empty or corrupt, and a view must
 * still render (total functions, no throws).
 */

/** A positive epoch-ms field as a number; null when missing, empty or not one. */
export function epochMs(raw: string | null | undefined): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/**
 * When a task last joined its queue (epoch ms): its `queued` field (its
 * submit, the end of its delay_s, a retry or a requeue), or `created` for
 * records written before `queued` existed; null when neither reads. The
 * queue-wait metrics and `taskhook top` count from it.
 */
export function queuedAt(queued: string | null | undefined, created: string | null | undefined): number | null {
  return epochMs(queued) ?? epochMs(created);
}

/** Epoch ms as ISO 8601, null stays null. */
export function isoOf(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A stored epoch-ms field as ISO 8601, or null. */
export function isoAt(raw: string | null | undefined): string | null {
  return isoOf(epochMs(raw));
}

/** A stored JSON field, or `fallback` when missing, empty or corrupt. */
export function parseJsonOr<T>(raw: string | null | undefined, fallback: T): T {
  if (raw === undefined || raw === null || raw === '') return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return fallback;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const stringOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** One recorded callback attempt, as the task view and the delivery log show it. */
export interface AttemptView {
  n: number;
  at: string | null;
  status_code: number | null;
  duration_ms: number | null;
  error: string | null;
  /** delivered | retry | failed | blocked */
  outcome: string | null;
  /** Kept for subscription deliveries only (bounded, see src/delivery/send.ts). */
  response_headers?: Record<string, string>;
  response_excerpt?: string;
}

/**
 * A delivery's attempt records (JSON), oldest first: those of the list an
 * earlier version kept beside the hash (`legacy`, `P:dlv:{id}:att`), then
 * the hash's own `att:1` … `att:{att}` (record.lua: one key per delivery,
 * not two, and no command of its own per attempt).
 */
export function attemptRecords(hash: Record<string, string>, legacy: readonly string[]): string[] {
  const out = [...legacy];
  const n = Number(hash.att ?? 0);
  for (let i = 1; i <= n; i += 1) {
    const a = hash[`att:${i}`];
    if (a !== undefined) out.push(a);
  }
  return out;
}

/** Renders one attempt record (`index` numbers a corrupt one). */
export function renderAttempt(raw: string, index: number): AttemptView {
  const parsed = parseJsonOr<unknown>(raw, undefined);
  const o = isRecord(parsed) ? parsed : {};
  const view: AttemptView = {
    n: finiteOrNull(o.n) ?? index + 1,
    at: stringOrNull(o.at),
    status_code: finiteOrNull(o.status_code),
    duration_ms: finiteOrNull(o.duration_ms),
    error: stringOrNull(o.error),
    outcome: stringOrNull(o.outcome),
  };
  if (isRecord(o.response_headers)) view.response_headers = o.response_headers as Record<string, string>;
  if (typeof o.response_excerpt === 'string') view.response_excerpt = o.response_excerpt;
  return view;
}
