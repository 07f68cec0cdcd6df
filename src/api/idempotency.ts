/**
 * `Idempotency-Key` for the submit routes: a client that retries a submit
 * after a timeout or a dropped connection gets the first answer again instead
 * of a second task.
 *
 * One Redis hash per (tenant, key): `P:idem:{tenant}:{sha256(key)}`. A request
 * claims it atomically (Lua) with a short lock TTL, so a crashed API process
 * cannot block a key for more than `lockMs`; a 2xx answer is stored and kept
 * `ttlMs`; any other outcome releases the key so the client can retry.
 *
 * The handler gets the claim and completes it itself, in the same Redis step
 * as its own writes (the submit routes pass it to the producer's script,
 * src/queue/lua/submit.lua). Then no crash or lost reply between "tasks
 * queued" and "answer stored" can let a retry queue the tasks a second time,
 * and a release after such a failure leaves the completed answer alone.
 *
 * That step is fenced by the claim's token: a request still running when its
 * lock ran out queues nothing (409, as for a request in flight), because a
 * retry may have claimed the key and queued the same tasks meanwhile. So the
 * lock only has to outlast a healthy submit, not every stall, and a claim left
 * by a crashed process frees the key soon.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Redis } from 'ioredis';
import { IdempotencyInFlightError, TaskhookError, ValidationError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuthState } from './auth.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
/** How long a completed answer is replayed. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a claim blocks the key while its request runs: longer than a
 * healthy submit takes, Redis's 10 s save deadline included. A request that
 * outlives it queues nothing (the submit is fenced), so this bounds how long a
 * crashed API process blocks a key, not correctness.
 */
export const DEFAULT_IDEMPOTENCY_LOCK_MS = 15_000;

const KEY_FORMAT = /^[\x20-\x7e]{1,255}$/;

export class IdempotencyKeyReusedError extends TaskhookError {
  constructor() {
    super('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body.', { status: 422 });
  }
}

/**
 * KEYS[1] the idem hash
 * ARGV[1] body hash, ARGV[2] claim token, ARGV[3] lock TTL (ms)
 * Returns {"claimed"} | {"mismatch"} | {"in_flight"} | {"done", status, body, location}.
 */
const CLAIM_LUA = `
local state = redis.call("hget", KEYS[1], "state")
if not state then
  redis.call("hset", KEYS[1], "state", "pending", "hash", ARGV[1], "token", ARGV[2])
  redis.call("pexpire", KEYS[1], ARGV[3])
  return {"claimed"}
end
if redis.call("hget", KEYS[1], "hash") ~= ARGV[1] then return {"mismatch"} end
if state ~= "done" then return {"in_flight"} end
local r = redis.call("hmget", KEYS[1], "status", "response", "location")
return {"done", r[1] or "", r[2] or "", r[3] or ""}
`;

/**
 * KEYS[1] the idem hash; ARGV[1] claim token. Deletes the claim if it is still
 * ours and unanswered: a handler whose reply was lost may have stored its answer.
 */
const RELEASE_LUA = `
local c = redis.call("hmget", KEYS[1], "token", "state")
if c[1] ~= ARGV[1] or c[2] == "done" then return 0 end
return redis.call("del", KEYS[1])
`;

const SCRIPTS = { th_idem_claim: CLAIM_LUA, th_idem_release: RELEASE_LUA } as const;

type ClaimReply = ['claimed'] | ['mismatch'] | ['in_flight'] | ['done', string, string, string];

export interface IdempotencyOptions {
  redis: Redis;
  /** `REDIS_PREFIX`; keys are `${prefix}:idem:{tenant}:{sha256(key)}`. */
  prefix: string;
  logger: Logger;
  /** How long a completed answer is replayed. @default 86400000 (24 h) */
  ttlMs?: number;
  /** How long an unfinished claim blocks the key. @default 15000 */
  lockMs?: number;
}

/** A claimed key, for the handler to complete together with its own writes (status, body, Location, TTL). */
export interface IdempotencyClaim {
  /** The claim's Redis hash. */
  key: string;
  token: string;
  /** How long a completed answer is replayed. */
  ttlMs: number;
}

export interface Idempotency {
  /**
   * Runs `handler` once per (tenant, Idempotency-Key); a handler that answers
   * 2xx must have completed the claim it was given. Without the header it
   * just runs `handler` (with `null`). `scope` names the endpoint (aliases
   * share one) and `body` is the parsed request body: both go into the
   * request fingerprint.
   */
  run(
    ctx: Context & { state: AuthState },
    scope: string,
    body: unknown,
    handler: (claim: IdempotencyClaim | null) => Promise<void>,
  ): Promise<void>;
}

/**
 * The Idempotency-Key of a request, or null without one. Throws a 400 naming
 * the header when it is repeated, empty, longer than 255 chars or not printable ASCII.
 */
export function idempotencyKeyOf(ctx: Pick<Context, 'req'>): string | null {
  // The common case (no header) costs one property read; headersDistinct builds a map of every header.
  if (ctx.req.headers['idempotency-key'] === undefined) return null;
  const values = ctx.req.headersDistinct['idempotency-key'];
  if (values === undefined) return null;
  const [value] = values;
  if (values.length !== 1 || value === undefined || !KEY_FORMAT.test(value)) {
    throw new ValidationError('The Idempotency-Key header is invalid.', [
      { field: IDEMPOTENCY_HEADER, message: 'must be given once, as 1–255 printable ASCII characters' },
    ]);
  }
  return value;
}

class Token {
  constructor(readonly text: string) {}
}

/**
 * SHA-256 of `scope` and the canonical JSON of `value` (object keys sorted),
 * so key order and whitespace do not make two equal requests differ.
 * Iterative: a hostile depth cannot overflow the stack.
 */
export function requestFingerprint(scope: string, value: unknown): string {
  const h = createHash('sha256').update(scope).update('\n');
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof Token) {
      h.update(v.text);
    } else if (Array.isArray(v)) {
      h.update('[');
      stack.push(new Token(']'));
      for (let i = v.length - 1; i >= 0; i -= 1) {
        stack.push(v[i]);
        if (i > 0) stack.push(new Token(','));
      }
    } else if (v !== null && typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      h.update('{');
      stack.push(new Token('}'));
      for (let i = keys.length - 1; i >= 0; i -= 1) {
        const k = keys[i] as string;
        stack.push(obj[k]);
        stack.push(new Token(`${JSON.stringify(k)}:`));
        if (i > 0) stack.push(new Token(','));
      }
    } else {
      h.update(JSON.stringify(v) ?? 'null');
    }
  }
  return h.digest('hex');
}

function sha256hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function createIdempotency(opts: IdempotencyOptions): Idempotency {
  const { redis, logger } = opts;
  const ttlMs = opts.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  const lockMs = opts.lockMs ?? DEFAULT_IDEMPOTENCY_LOCK_MS;
  const commands = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    // Defined once per client; ioredis then sends EVALSHA (EVAL on a cache miss).
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  const evalScript = <T>(name: keyof typeof SCRIPTS, key: string, args: (string | number)[]): Promise<T> =>
    (commands[name] as (...a: (string | number)[]) => Promise<T>).call(redis, key, ...args);

  const release = (key: string, token: string): Promise<void> =>
    evalScript<number>('th_idem_release', key, [token]).then(
      () => undefined,
      (err: unknown) => {
        logger.warn('could not release an idempotency key; it expires with its lock', { err: coerceError(err).message });
      },
    );

  return {
    async run(ctx, scope, body, handler) {
      const idemKey = idempotencyKeyOf(ctx);
      if (idemKey === null) {
        await handler(null);
        return;
      }
      const key = `${opts.prefix}:idem:${ctx.state.tenant}:${sha256hex(idemKey)}`;
      const token = randomUUID();
      const reply = await evalScript<ClaimReply>('th_idem_claim', key, [requestFingerprint(scope, body), token, lockMs]);
      switch (reply[0]) {
        case 'mismatch':
          throw new IdempotencyKeyReusedError();
        case 'in_flight':
          ctx.set('Retry-After', '1');
          throw new IdempotencyInFlightError();
        case 'done': {
          const [, status, response, location] = reply;
          ctx.status = Number(status);
          if (location) ctx.set('Location', location);
          ctx.set(REPLAYED_HEADER, 'true');
          ctx.type = 'application/json';
          ctx.body = response;
          return;
        }
        case 'claimed':
          break;
      }
      try {
        await handler({ key, token, ttlMs });
      } catch (err) {
        // Nothing was created, or the handler stored its answer before its reply was lost
        // (release keeps a completed claim): either way the client may retry with the same key.
        await release(key, token);
        // The claim ran out and the submit was fenced off: another request may hold the key now.
        if (err instanceof IdempotencyInFlightError) ctx.set('Retry-After', '1');
        throw err;
      }
      if (ctx.status < 200 || ctx.status > 299) await release(key, token);
    },
  };
}
