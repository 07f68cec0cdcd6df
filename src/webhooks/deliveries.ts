/**
 * The delivery log as the API shows it, and replay: read deliveries (task
 * callbacks and subscription deliveries alike) with their attempts, list a
 * subscription's deliveries or a tenant's dead letters, and resend.
 * A resend is a new attempt sequence of the same event (same `msg`, so the
 * same `webhook-id`), made atomically by `resend.lua`; the worker's
 * dispatcher then delivers it like any other due delivery.
 */
import type { Redis } from 'ioredis';
import { redactUrl } from '../logger.js';
import type { Keys } from '../store/keys.js';
import { attemptRecords, isoAt, renderAttempt, type AttemptView } from '../store/fields.js';
import { callScript, defineScript } from '../store/scripts.js';
import { decodeCursor, loadPageScript, scanPage, type Page, type PageEntry } from './page.js';
import { DELIVERY_STATES, type DeliveryState } from './schemas.js';
import { webhookKeys } from './store.js';


export interface DeliveryView {
  id: string;
  /** The subscription, or null for a task's own callback. */
  webhook_id: string | null;
  task_id: string | null;
  event: string | null;
  state: DeliveryState;
  /** The `webhook-id` header: the same for every attempt and resend of this delivery. */
  webhook_message_id: string | null;
  /** Without credentials, query string or fragment. */
  url: string;
  created_at: string | null;
  next_attempt_at: string | null;
  completed_at: string | null;
  attempts: AttemptView[];
}

export const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,200}$/;
const STATES: readonly string[] = DELIVERY_STATES;

/** Renders a delivery hash (HGETALL) and its attempts (oldest first). Pure and total. */
export function renderDelivery(h: Record<string, string>, attempts: readonly string[]): DeliveryView {
  const state = (STATES.includes(h.state ?? '') ? h.state : 'pending') as DeliveryState;
  const terminal = state === 'delivered' || state === 'failed';
  return {
    id: h.id ?? '',
    webhook_id: h.sub ? h.sub : null,
    task_id: h.task ? h.task : null,
    event: h.event ? h.event : null,
    state,
    webhook_message_id: h.msg ? h.msg : null,
    url: h.url ? redactUrl(h.url) : '',
    created_at: isoAt(h.created),
    next_attempt_at: state === 'pending' ? isoAt(h.next) : null,
    completed_at: terminal ? isoAt(h.done) : null,
    attempts: attempts.map(renderAttempt),
  };
}

export interface DeliveryFilter {
  status?: DeliveryState | undefined;
  event?: string | undefined;
  /** Epoch ms: only deliveries created (subscription list) or failed (dead letters) since then. */
  since?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export type ResendResult =
  | { kind: 'ok'; delivery: DeliveryView }
  | { kind: 'missing' }
  | { kind: 'delivering' }
  /** A `webhook.test` delivery: tests are sent once, from the API (POST /webhooks/{id}/test again instead). */
  | { kind: 'test_event' }
  /** A `task.progress` delivery of a finished task: no progress event follows the terminal one. */
  | { kind: 'progress_closed' }
  /** The delivery belongs to a subscription that was deleted: nothing could sign it. */
  | { kind: 'subscription_gone' }
  /** The subscription is disabled: re-enable it first (PATCH is_active=true). */
  | { kind: 'subscription_disabled' };

export interface DeliveryLog {
  /** The delivery, or null when it does not exist or belongs to another tenant. */
  get(tenant: string, id: string): Promise<DeliveryView | null>;
  /** A subscription's deliveries, newest first (the caller has checked the subscription's tenant). */
  listForSubscription(tenant: string, subId: string, filter: DeliveryFilter): Promise<Page<DeliveryView>>;
  /** The tenant's dead letters, most recently failed first. */
  listDead(tenant: string, filter: DeliveryFilter): Promise<Page<DeliveryView>>;
  resend(tenant: string, id: string): Promise<ResendResult>;
  /** Resends every failed delivery of the subscription created at or after `since`; returns how many (the caller checks the subscription is active). */
  recover(tenant: string, subId: string, since: number): Promise<number>;
}

export interface DeliveryLogOptions {
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

type Replies = [Error | null, unknown][] | null;

export function createDeliveryLog(redis: Redis, keys: Keys, opts: DeliveryLogOptions = {}): DeliveryLog {
  const wk = webhookKeys(keys.prefix);
  const now = opts.now ?? Date.now;
  loadPageScript(redis);
  defineScript(redis, new URL('./lua/', import.meta.url), 'resend', 3);

  /** Every listed delivery with its attempts, in one pipeline; null for a pruned one or another tenant's. */
  async function loadMany(tenant: string, ids: readonly string[]): Promise<(DeliveryView | null)[]> {
    if (ids.length === 0) return [];
    const p = redis.pipeline();
    for (const id of ids) p.hgetall(keys.delivery(id)).lrange(keys.attempts(id), 0, -1);
    const replies: Replies = await p.exec();
    return ids.map((_, i) => {
      const [e1, h] = replies?.[2 * i] ?? [new Error('no reply'), null];
      const [e2, att] = replies?.[2 * i + 1] ?? [new Error('no reply'), null];
      if (e1 || e2) throw e1 ?? e2;
      const hash = h as Record<string, string>;
      if (!hash.id || hash.tenant !== tenant) return null;
      return renderDelivery(hash, attemptRecords(hash, att as string[]));
    });
  }

  function filtered(tenant: string, f: DeliveryFilter) {
    return async (entries: PageEntry[]): Promise<(DeliveryView | null)[]> => {
      const views = await loadMany(tenant, entries.map((e) => e.member));
      return views.map((v) => (v === null || (f.status !== undefined && v.state !== f.status) || (f.event !== undefined && v.event !== f.event) ? null : v));
    };
  }

  async function get(tenant: string, id: string): Promise<DeliveryView | null> {
    if (!DELIVERY_ID.test(id)) return null;
    const [view] = await loadMany(tenant, [id]);
    return view ?? null;
  }

  async function resend(tenant: string, id: string): Promise<ResendResult> {
    if (!DELIVERY_ID.test(id)) return { kind: 'missing' };
    const sub = await redis.hget(keys.delivery(id), 'sub');
    if (sub) {
      // The worker fails deliveries of a deleted or disabled subscription without sending them: refuse up front.
      const active = await redis.hget(wk.sub(sub), 'active');
      if (active !== '1') {
        // Check the tenant first, so another tenant learns nothing from the answer.
        if ((await get(tenant, id)) === null) return { kind: 'missing' };
        return { kind: active === null ? 'subscription_gone' : 'subscription_disabled' };
      }
    }
    const r = await callScript<string>(redis, 'resend', [keys.delivery(id), keys.due, wk.dead(tenant)], [id, now(), tenant]);
    if (r === 'missing' || r === 'delivering' || r === 'test_event' || r === 'progress_closed') return { kind: r };
    const view = await get(tenant, id);
    return view === null ? { kind: 'missing' } : { kind: 'ok', delivery: view };
  }

  return {
    get,
    resend,

    listForSubscription(tenant, subId, f) {
      return scanPage(redis, {
        key: wk.deliveries(subId),
        cursor: decodeCursor(f.cursor),
        limit: f.limit,
        ...(f.since === undefined ? {} : { minScore: f.since }),
        load: filtered(tenant, f),
      });
    },

    listDead(tenant, f) {
      return scanPage(redis, {
        key: wk.dead(tenant),
        cursor: decodeCursor(f.cursor),
        limit: f.limit,
        ...(f.since === undefined ? {} : { minScore: f.since }),
        load: filtered(tenant, { ...f, status: 'failed' }),
      });
    },

    async recover(tenant, subId, since) {
      const key = wk.deliveries(subId);
      let resent = 0;
      const CHUNK = 500;
      // Oldest first, so deliveries are resent in the order their events happened.
      for (let offset = 0; ; offset += CHUNK) {
        const ids = await redis.zrangebyscore(key, since, '+inf', 'LIMIT', offset, CHUNK);
        if (ids.length === 0) break;
        const p = redis.pipeline();
        for (const id of ids) p.hmget(keys.delivery(id), 'state', 'tenant');
        const replies: Replies = await p.exec();
        const failed = ids.filter((_, i) => {
          const [state, owner] = (replies?.[i]?.[1] as (string | null)[] | undefined) ?? [];
          return state === 'failed' && owner === tenant;
        });
        const results = await Promise.all(
          failed.map((id) => callScript<string>(redis, 'resend', [keys.delivery(id), keys.due, wk.dead(tenant)], [id, now(), tenant])),
        );
        resent += results.filter((r) => r === 'ok').length;
        if (ids.length < CHUNK) break;
      }
      return resent;
    },
  };
}
