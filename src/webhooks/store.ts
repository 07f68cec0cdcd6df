/**
 * Webhook subscriptions in Redis (layout: docs/architecture.md, "Webhook
 * subscriptions"). Every read and write is scoped to a tenant: a
 * subscription of another tenant is indistinguishable from a missing one.
 * Changes to an existing subscription are Lua scripts that first check it
 * still exists, so they cannot race a DELETE into a half-written hash.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TaskhookError } from '../errors.js';
import { callScript, defineScript } from '../store/scripts.js';
import { decodeCursor, loadPageScript, scanPage, type Page } from './page.js';
import type { SubscriptionFilter } from './schemas.js';
import { generateSecret } from './secret.js';
import { createKeys } from '../store/keys.js';
import { epochMs, isRecord, parseJsonOr } from '../store/fields.js';

/** Key names of the subscription layout. */
export interface WebhookKeys {
  /** `P:wh:` — a subscription's key is this + its id. */
  readonly subPrefix: string;
  sub(id: string): string;
  /** The tenant's subscription ids by creation time. */
  tenantIndex(tenant: string): string;
  /** The subscription's delivery ids by creation time. */
  deliveries(id: string): string;
  stats(id: string): string;
  latency(id: string): string;
  /** The tenant's dead letters, scored by when they failed. */
  dead(tenant: string): string;
}

/** The subscription keys, named from the one key layout in src/store/keys.ts. */
export function webhookKeys(prefix: string): WebhookKeys {
  const keys = createKeys(prefix);
  return {
    subPrefix: keys.webhookPrefix,
    sub: keys.webhook,
    tenantIndex: keys.tenantWebhooks,
    deliveries: (id) => `${keys.webhook(id)}:dlv`,
    stats: (id) => `${keys.webhook(id)}:stats`,
    latency: (id) => `${keys.webhook(id)}:lat`,
    dead: keys.dead,
  };
}

export const SUBSCRIPTION_ID = /^wh_[0-9a-f]{24}$/;
/** Bounds the fan-out of every task event (done in one Lua script, so it blocks Redis while it runs). */
export const MAX_SUBSCRIPTIONS_PER_TENANT = 100;

/** A stored subscription, secrets included: never render it as is (see `renderSubscription`). */
export interface Subscription {
  id: string;
  tenant: string;
  url: string;
  /** Event types, or `["*"]`. */
  events: string[];
  description: string | null;
  headers: Record<string, string>;
  filter: SubscriptionFilter;
  active: boolean;
  secret: string;
  prevSecret: string | null;
  /** Epoch ms until which `prevSecret` still signs. */
  prevUntil: number | null;
  created: number;
  updated: number;
  disabledReason: string | null;
  disabledAt: number | null;
  failingSince: number | null;
}

/** The public JSON of a subscription (no secrets). */
export interface SubscriptionView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  headers: Record<string, string>;
  filter: SubscriptionFilter;
  is_active: boolean;
  created_at: string;
  updated_at: string;
  disabled_reason: string | null;
  disabled_at: string | null;
}

export interface SubscriptionInput {
  url: string;
  events: string[];
  description: string | null;
  headers: Record<string, string>;
  filter: SubscriptionFilter;
  is_active: boolean;
}

export interface SubscriptionStore {
  /** Throws a 409 `subscription_limit` when the tenant has MAX_SUBSCRIPTIONS_PER_TENANT already. */
  create(tenant: string, input: SubscriptionInput): Promise<Subscription>;
  get(tenant: string, id: string): Promise<Subscription | null>;
  /** Newest first; `cursor` as returned in `next_cursor` (a 400 when it is not one). */
  list(tenant: string, page: { limit: number; cursor?: string | undefined }): Promise<Page<Subscription>>;
  /** Setting `is_active: true` also clears the disable marks. Null when there is no such subscription. */
  update(tenant: string, id: string, patch: Partial<SubscriptionInput>): Promise<Subscription | null>;
  /** Removes the subscription, its index entries, stats and latency samples. */
  remove(tenant: string, id: string): Promise<boolean>;
  /** New secret; the old one keeps signing for `overlapMs`. Null when there is no such subscription. */
  rotateSecret(tenant: string, id: string, overlapMs: number): Promise<{ secret: string; prevUntil: number } | null>;
  /** The tenant's active subscriptions, oldest first, in one round trip (the worker's fan-out). */
  activeForTenant(tenant: string): Promise<Subscription[]>;
}

const orNull = (raw: string | undefined): string | null => (raw === undefined || raw === '' ? null : raw);

/** A subscription from its hash (HGETALL), or null for an empty/foreign one. Pure and total. */
export function parseSubscription(h: Record<string, string>): Subscription | null {
  if (!h.id || !h.tenant || !h.url || !h.secret) return null;
  const events = parseJsonOr<unknown>(h.events, []);
  const headers = parseJsonOr<unknown>(h.headers, {});
  const filter = parseJsonOr<unknown>(h.filter, {});
  return {
    id: h.id,
    tenant: h.tenant,
    url: h.url,
    events: Array.isArray(events) ? events.filter((e): e is string => typeof e === 'string') : [],
    description: orNull(h.description),
    headers: isRecord(headers) ? (headers as Record<string, string>) : {},
    filter: isRecord(filter) ? (filter as SubscriptionFilter) : {},
    active: h.active === '1',
    secret: h.secret,
    prevSecret: orNull(h.prev_secret),
    prevUntil: epochMs(h.prev_until),
    created: epochMs(h.created) ?? 0,
    updated: epochMs(h.updated) ?? epochMs(h.created) ?? 0,
    disabledReason: orNull(h.disabled_reason),
    disabledAt: epochMs(h.disabled_at),
    failingSince: epochMs(h.failing_since),
  };
}

export function renderSubscription(s: Subscription): SubscriptionView {
  return {
    id: s.id,
    url: s.url,
    events: s.events,
    description: s.description,
    headers: s.headers,
    filter: s.filter,
    is_active: s.active,
    created_at: new Date(s.created).toISOString(),
    updated_at: new Date(s.updated).toISOString(),
    disabled_reason: s.disabledReason,
    disabled_at: s.disabledAt === null ? null : new Date(s.disabledAt).toISOString(),
  };
}

/** The secrets that sign for `s` at `now`: the current one, and the previous one during its overlap. */
export function signingSecrets(s: Subscription, now: number): { secret: string; previous?: string } {
  return s.prevSecret !== null && s.prevUntil !== null && now < s.prevUntil ? { secret: s.secret, previous: s.prevSecret } : { secret: s.secret };
}

/** Hash fields for the given input fields (only those present). */
function inputFields(input: Partial<SubscriptionInput>): Record<string, string> {
  const f: Record<string, string> = {};
  if (input.url !== undefined) f.url = input.url;
  if (input.events !== undefined) f.events = JSON.stringify(input.events);
  if (input.description !== undefined) f.description = input.description ?? '';
  if (input.headers !== undefined) f.headers = JSON.stringify(input.headers);
  if (input.filter !== undefined) f.filter = JSON.stringify(input.filter);
  if (input.is_active !== undefined) f.active = input.is_active ? '1' : '0';
  return f;
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

export interface SubscriptionStoreOptions {
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

export function createSubscriptionStore(redis: Redis, prefix: string, opts: SubscriptionStoreOptions = {}): SubscriptionStore {
  const k = webhookKeys(prefix);
  const now = opts.now ?? Date.now;
  const lua = new URL('./lua/', import.meta.url);
  loadPageScript(redis);
  defineScript(redis, lua, 'active_subs', 1);
  defineScript(redis, lua, 'patch_sub', 1);
  defineScript(redis, lua, 'rotate_secret', 1);
  defineScript(redis, lua, 'create_sub', 2);

  async function get(tenant: string, id: string): Promise<Subscription | null> {
    if (!SUBSCRIPTION_ID.test(id)) return null;
    const s = parseSubscription(await redis.hgetall(k.sub(id)));
    return s !== null && s.tenant === tenant ? s : null;
  }

  return {
    get,

    async create(tenant, input) {
      const id = `wh_${randomBytes(12).toString('hex')}`;
      const at = now();
      const fields: Record<string, string> = { id, tenant, ...inputFields(input), secret: generateSecret(), created: String(at), updated: String(at) };
      const pairs: string[] = [];
      for (const f in fields) pairs.push(f, fields[f] as string);
      const index = k.tenantIndex(tenant);
      const created = await callScript<number>(redis, 'create_sub', [index, k.sub(id)], [MAX_SUBSCRIPTIONS_PER_TENANT, at, id, ...pairs]);
      if (created !== 1) {
        throw new TaskhookError('subscription_limit', `At most ${MAX_SUBSCRIPTIONS_PER_TENANT} webhook subscriptions per API key.`, {
          status: 409,
          extra: { limit: MAX_SUBSCRIPTIONS_PER_TENANT },
        });
      }
      return parseSubscription(fields) as Subscription;
    },

    async list(tenant, page) {
      return scanPage<Subscription>(redis, {
        key: k.tenantIndex(tenant),
        cursor: decodeCursor(page.cursor),
        limit: page.limit,
        async load(entries) {
          const p = redis.pipeline();
          for (const e of entries) p.hgetall(k.sub(e.member));
          const replies = (await p.exec()) ?? [];
          return replies.map(([err, h]) => {
            if (err) throw err;
            const s = parseSubscription(h as Record<string, string>);
            return s !== null && s.tenant === tenant ? s : null;
          });
        },
      });
    },

    async update(tenant, id, patch) {
      if (!SUBSCRIPTION_ID.test(id)) return null;
      const set = { ...inputFields(patch), updated: String(now()) };
      // Re-enabling starts over: the disable rules count from the next failure.
      const clear = patch.is_active === true ? ['disabled_reason', 'disabled_at', 'failing_since'] : [];
      const args = [tenant, clear.length, ...clear, ...Object.entries(set).flat()];
      const ok = await callScript<number>(redis, 'patch_sub', [k.sub(id)], args);
      return ok === 1 ? get(tenant, id) : null;
    },

    async remove(tenant, id) {
      if ((await get(tenant, id)) === null) return false;
      await redis
        .multi()
        .del(k.sub(id), k.deliveries(id), k.stats(id), k.latency(id))
        .zrem(k.tenantIndex(tenant), id)
        .exec();
      return true;
    },

    async rotateSecret(tenant, id, overlapMs) {
      if (!SUBSCRIPTION_ID.test(id)) return null;
      const secret = generateSecret();
      const at = now();
      const prevUntil = at + overlapMs;
      const ok = await callScript<number>(redis, 'rotate_secret', [k.sub(id)], [tenant, secret, prevUntil, at]);
      return ok === 1 ? { secret, prevUntil } : null;
    },

    async activeForTenant(tenant) {
      const rows = await callScript<string[][]>(redis, 'active_subs', [k.tenantIndex(tenant)], [k.subPrefix, tenant]);
      return rows.map((r) => parseSubscription(pairs(r))).filter((s): s is Subscription => s !== null);
    },
  };
}
