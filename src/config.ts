/**
 * The one configuration schema. Every default lives here and nowhere else.
 * Entry points call `parseConfig(process.env)`; modules receive the result.
 * Nothing is parsed at import time.
 */
import { z } from 'zod';
import { ConfigError, ValidationError, type FieldIssue } from './errors.js';
import { standardWebhooksKey } from './delivery/sign.js';

/** Known queues. Every task definition names one of them. */
export const QUEUE_NAMES = ['video', 'image', 'audio', 'debug'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Queue names as given (flag or WORKER_QUEUES), checked; duplicates dropped. Throws a ValidationError naming the unknown ones. */
export function parseQueues(names: readonly string[]): QueueName[] {
  const unknown = names.filter((n) => !(QUEUE_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown queue(s): ${unknown.join(', ')}. Known queues: ${QUEUE_NAMES.join(', ')}.`, [
      { field: 'queues', message: `unknown: ${unknown.join(', ')}` },
    ]);
  }
  return [...new Set(names)] as QueueName[];
}

/** Secrets shipped for local development only; refused in production. */
export const DEV_API_KEY = 'dev-key';
export const DEV_WEBHOOK_SECRET = 'whsec_ZGV2LXNlY3JldC1kby1ub3QtdXNlLWluLXByb2R1Y3Rpb24=';

/**
 * A signing secret: any non-empty string, but one that starts with `whsec_`
 * must be base64 after it (Standard Webhooks decodes it); caught here so a
 * typo fails at start-up with the variable's name, not at the first callback.
 */
const secret = () =>
  z
    .string()
    .refine((s) => {
      try {
        standardWebhooksKey(s);
        return true;
      } catch {
        return false;
      }
    }, 'the part after "whsec_" must be base64')
    .default('');

const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(def);

/** Comma-separated list; blanks dropped. */
const list = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    );

const optionalBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes')
  .optional();

export const configSchema = z
  .object({
    /** `production` turns on the strict defaults (https only, no dev secrets). @default development */
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** API listen port. @default 3000 */
    PORT: int(3000, 0, 65535),
    /** API listen address. @default 0.0.0.0 */
    HOST: z.string().min(1).default('0.0.0.0'),
    /** Redis shared by every API and worker process. @default redis://127.0.0.1:6379 */
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key taskhook writes. @default th */
    REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/).default('th'),
    /** Refuse to start when Redis may evict keys (maxmemory-policy other than noeviction). @default true */
    REDIS_REQUIRE_NOEVICTION: bool(true),
    /** Valid API keys, comma-separated; each a key or `sha256:<hex>`. Dev default: `dev-key`. */
    API_KEYS: list(''),
    /** Secret for callback signatures (`whsec_<base64>` recommended). Required in production. */
    WEBHOOK_SECRET: secret(),
    /**
     * The secret being rotated out: while set, task callbacks carry a second
     * `webhook-signature` under it, so receivers can move to WEBHOOK_SECRET
     * at their own pace. Empty = none.
     */
    WEBHOOK_SECRET_PREVIOUS: secret(),
    /** Retries after the first callback attempt. @default 3 */
    CALLBACK_MAX_RETRIES: int(3, 0, 10),
    /** First retry delay; doubles each retry (1 s, 2 s, 4 s). @default 1000 */
    CALLBACK_BACKOFF_MS: int(1000, 1, 3_600_000),
    /** Deadline of one attempt: connect, headers and body. @default 30000 */
    CALLBACK_TIMEOUT_MS: int(30_000, 100, 600_000),
    /** Longest `Retry-After` honoured on a retried answer (408, 429, 5xx). @default 300000 */
    CALLBACK_RETRY_AFTER_MAX_MS: int(300_000, 0, 86_400_000),
    /** Include `traceback` in failure callbacks. @default true */
    CALLBACK_INCLUDE_TRACEBACK: bool(true),
    /** Allow `http://` targets. @default true, false when NODE_ENV=production */
    CALLBACK_ALLOW_HTTP: optionalBool,
    /** CIDRs/hosts exempt from the SSRF block. @default loopback in development, empty in production */
    CALLBACK_ALLOWLIST: z.string().optional(),
    /** How long the API reuses its submit-time verdict on a callback URL; 0 = check every submit. @default 10000 */
    CALLBACK_CHECK_CACHE_MS: int(10_000, 0, 3_600_000),
    /** Callback attempts in flight per worker process. @default 64 */
    CALLBACK_CONCURRENCY: int(64, 1, 10_000),
    /** HTTP requests in flight per destination host, per process. @default 16 */
    CALLBACK_HOST_CONCURRENCY: int(16, 1, 10_000),
    /** Response bytes read from a receiver; the rest is discarded. @default 65536 */
    CALLBACK_MAX_RESPONSE_BYTES: int(65_536, 0, 10_485_760),
    /** Jobs run at once per queue in one worker process. @default 4 */
    WORKER_CONCURRENCY: int(4, 1, 1000),
    /** Queues a worker consumes, comma-separated. @default video,image,audio,debug */
    WORKER_QUEUES: list(QUEUE_NAMES.join(',')),
    /** Whether worker processes deliver callbacks (any process may). @default true */
    WORKER_DELIVERS_CALLBACKS: bool(true),
    /** Worker heap growth between full GCs, in percent (lower = less memory, more GC); 0 = V8's adaptive default. @default 60 */
    WORKER_HEAP_GROWTH_PERCENT: int(60, 0, 1000),
    /** Time running tasks get to finish after SIGTERM. @default 10000 */
    SHUTDOWN_GRACE_MS: int(10_000, 0, 3_600_000),
    /** bee-queue stall window: a dead worker's job is re-queued within 1–2 windows. @default 5000 */
    STALL_INTERVAL_MS: int(5000, 100, 600_000),
    /** Times a task may lose its worker before it fails with `worker_lost`. @default 2 */
    TASK_MAX_LOST: int(2, 0, 100),
    /** Largest accepted request body. @default 262144 */
    MAX_BODY_BYTES: int(262_144, 1024, 104_857_600),
    /** Largest `metadata` object (serialised). @default 16384 */
    METADATA_MAX_BYTES: int(16_384, 2, 1_048_576),
    /** Deepest nesting allowed in `metadata`. @default 8 */
    METADATA_MAX_DEPTH: int(8, 1, 64),
    /** Requests per minute per API key; 0 disables. @default 600 */
    RATE_LIMIT_PER_MIN: int(600, 0, 10_000_000),
    /** Base of `download_url` for task output files. @default http://localhost:$PORT */
    PUBLIC_BASE_URL: z.string().url().optional(),
    /** Where relative media inputs are read from. @default ./data/input */
    MEDIA_INPUT_DIR: z.string().min(1).default('./data/input'),
    /** Where task outputs are written (`<dir>/<task_id>/`). @default ./data/output */
    MEDIA_OUTPUT_DIR: z.string().min(1).default('./data/output'),
    /** Scratch space for media tasks; emptied after each task. @default OS temp dir */
    MEDIA_TMP_DIR: z.string().optional(),
    /** Largest media input. @default 524288000 (500 MiB) */
    MEDIA_MAX_INPUT_BYTES: int(524_288_000, 1, Number.MAX_SAFE_INTEGER),
    /** Longest media input, seconds. @default 3600 */
    MEDIA_MAX_DURATION_S: int(3600, 1, 86_400 * 7),
    /** Largest decoded image, width × height. @default 100000000 */
    MEDIA_MAX_PIXELS: int(100_000_000, 1, 2_000_000_000),
    /** Largest output width or height. @default 8192 */
    MEDIA_MAX_OUTPUT_DIMENSION: int(8192, 1, 65_535),
    /** Deadline for downloading a media input. @default 120000 */
    MEDIA_DOWNLOAD_TIMEOUT_MS: int(120_000, 100, 3_600_000),
    /** Outputs older than this are pruned. @default 72 */
    MEDIA_RETENTION_HOURS: int(72, 1, 24 * 365),
    /** ffmpeg binary. @default ffmpeg on PATH */
    FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
    /** ffprobe binary. @default ffprobe on PATH */
    FFPROBE_PATH: z.string().min(1).default('ffprobe'),
    /** How long a rotated-out subscription secret still signs deliveries, hours. @default 24 */
    WEBHOOK_SECRET_OVERLAP_H: int(24, 0, 24 * 30),
    /** A failing subscription with no success for this long is disabled, hours. @default 72 */
    WEBHOOK_DISABLE_AFTER_H: int(72, 1, 24 * 365),
    /** HTTP requests in flight per subscription endpoint, per process. @default 8 */
    WEBHOOK_ENDPOINT_CONCURRENCY: int(8, 1, 1000),
    /** Retry delays for subscription deliveries, e.g. `5s,5m,30m,2h,5h,10h,10h`; empty = the callback schedule. */
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .regex(/^\s*(\d+(ms|s|m|h|d)\s*(,\s*\d+(ms|s|m|h|d)\s*)*)?$/, 'a comma-separated list of delays like 5s,5m,30m,2h')
      .default(''),
    /** At most one `task.progress` event per task per endpoint per this interval. @default 1000 */
    PROGRESS_EVENT_INTERVAL_MS: int(1000, 50, 3_600_000),
    /** Delivery records older than this are pruned, days. @default 30 */
    DELIVERY_RETENTION_DAYS: int(30, 1, 3650),
    /** Finished task records older than this are pruned, days. @default 30 */
    TASK_RETENTION_DAYS: int(30, 1, 3650),
    /** Port of the worker's own /metrics endpoint; 0 = none (the API serves /metrics on PORT). @default 0 */
    METRICS_PORT: int(0, 0, 65535),
    /** Serve /metrics without an API key (only on a network Prometheus alone reaches). @default false */
    METRICS_PUBLIC: bool(false),
    /** Serve the dashboard without its action buttons (retry, cancel, resend, recover); the action endpoints answer 403. @default false */
    DASHBOARD_READONLY: bool(false),
    /** Lifetime of a dashboard login session, minutes. @default 480 */
    DASHBOARD_SESSION_TTL_MIN: int(480, 1, 43_200),
    /** error, warn, info, debug. @default info */
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    /** `json` for machines, `pretty` for people. @default json */
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  })
  .transform((raw) => {
    const production = raw.NODE_ENV === 'production';
    return {
      ...raw,
      production,
      API_KEYS: raw.API_KEYS.length > 0 || production ? raw.API_KEYS : [DEV_API_KEY],
      WEBHOOK_SECRET: raw.WEBHOOK_SECRET || (production ? '' : DEV_WEBHOOK_SECRET),
      CALLBACK_ALLOW_HTTP: raw.CALLBACK_ALLOW_HTTP ?? !production,
      CALLBACK_ALLOWLIST: (raw.CALLBACK_ALLOWLIST ?? (production ? '' : '127.0.0.0/8,::1/128,localhost'))
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
      PUBLIC_BASE_URL: (raw.PUBLIC_BASE_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ''),
    };
  });

export type Config = z.output<typeof configSchema>;

/** Parses the environment; throws one ConfigError that lists every problem. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = configSchema.safeParse(cleaned);
  const issues: FieldIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(environment)', message: i.message }));
  // Checked on the raw values so they are reported together with type errors.
  if (cleaned.NODE_ENV === 'production') issues.push(...productionIssues(cleaned));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return parsed.data;
}

function productionIssues(env: Record<string, string>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const keys = (env.API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) issues.push({ field: 'API_KEYS', message: 'required when NODE_ENV=production' });
  if (keys.includes(DEV_API_KEY)) {
    issues.push({ field: 'API_KEYS', message: 'the development key may not be used in production' });
  }
  if (!env.WEBHOOK_SECRET) {
    issues.push({ field: 'WEBHOOK_SECRET', message: 'required when NODE_ENV=production' });
  } else if (env.WEBHOOK_SECRET === DEV_WEBHOOK_SECRET) {
    issues.push({ field: 'WEBHOOK_SECRET', message: 'the development secret may not be used in production' });
  }
  return issues;
}

/** A config for tests and tools: the defaults plus overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return parseConfig({ NODE_ENV: 'test', LOG_LEVEL: 'error', ...overrides });
}
