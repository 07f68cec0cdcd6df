/**
 * One error hierarchy for the whole product. Every error we raise on purpose
 * is a TaskhookError with a stable `code`: API problem bodies, failure
 * callbacks (`error_type`) and logs all read the code, never the message.
 */

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. `task_data.width` or `body`. */
  field: string;
  message: string;
}

export interface TaskhookErrorOptions {
  /** HTTP status when the error reaches the API boundary. */
  status?: number;
  /** Whether `message` may be shown to API clients (4xx: yes, 5xx: no). */
  expose?: boolean;
  cause?: unknown;
  /** Per-field problems, rendered as `errors` in problem+json bodies. */
  issues?: FieldIssue[];
  /** Extra members for the problem body (must be safe to show). */
  extra?: Record<string, unknown>;
  /** Whether the task runner may retry the task after this error. */
  retryable?: boolean;
}

export class TaskhookError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly issues: FieldIssue[];
  readonly extra: Record<string, unknown>;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: TaskhookErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
    this.issues = options.issues ?? [];
    this.extra = options.extra ?? {};
    this.retryable = options.retryable ?? true;
  }
}

/** Start-up configuration is wrong; lists every problem at once. */
export class ConfigError extends TaskhookError {
  constructor(issues: FieldIssue[]) {
    super(
      'config_invalid',
      `Invalid configuration:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`,
      { issues, status: 500, expose: false },
    );
  }
}

/** A request body, query or task input failed validation. */
export class ValidationError extends TaskhookError {
  constructor(message: string, issues: FieldIssue[] = [], extra: Record<string, unknown> = {}) {
    super('validation_failed', message, { status: 400, issues, extra, retryable: false });
  }
}

export class UnauthorizedError extends TaskhookError {
  constructor() {
    super('unauthorized', 'A valid API key is required (X-API-Key or Authorization: Bearer).', {
      status: 401,
    });
  }
}

export class NotFoundError extends TaskhookError {
  constructor(what: string) {
    super('not_found', `${what} was not found.`, { status: 404 });
  }
}

/** Thrown by the base task when a handler outlives its timeout. */
export class TaskTimeoutError extends TaskhookError {
  constructor(timeoutMs: number) {
    super('timeout', `Task timed out after ${timeoutMs} ms.`, { retryable: true });
  }
}

/** The task's worker died (or was killed) too many times while running it. */
export class WorkerLostError extends TaskhookError {
  constructor(starts: number) {
    super(
      'worker_lost',
      `The worker running this task was lost ${starts} times; giving up.`,
      { retryable: false },
    );
  }
}

/** The task's input is wrong in a way a person has to fix; never retried. */
export class InvalidInputError extends TaskhookError {
  constructor(message: string, options: TaskhookErrorOptions = {}) {
    super('invalid_input', message, { retryable: false, status: 400, ...options });
  }
}

/** A media input URL or file could not be fetched. */
export class InputUnreachableError extends TaskhookError {
  constructor(message: string, options: TaskhookErrorOptions = {}) {
    super('input_unreachable', message, { retryable: false, ...options });
  }
}

/** A configured limit (bytes, duration, pixels, dimensions) was exceeded. */
export class LimitExceededError extends TaskhookError {
  constructor(message: string, options: TaskhookErrorOptions = {}) {
    super('limit_exceeded', message, { retryable: false, ...options });
  }
}

/** An outbound request was refused by the egress policy (SSRF guard). */
export class DestinationBlockedError extends TaskhookError {
  constructor(reason: string) {
    super('destination_blocked', `Destination blocked: ${reason}`, {
      status: 400,
      retryable: false,
      extra: { reason },
    });
  }
}

/** A callback's signature headers are missing, stale or do not match (receivers: `verifyCallback`). */
export class SignatureVerificationError extends TaskhookError {
  constructor(message: string) {
    super('signature_invalid', message, { status: 401, retryable: false });
  }
}

/**
 * A submit's `Idempotency-Key` is held by another request: one still running,
 * or one that took the key over after this request's claim expired (then this
 * request queued nothing). A retry gets the other request's answer.
 */
export class IdempotencyInFlightError extends TaskhookError {
  constructor() {
    super('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry shortly.', { status: 409 });
  }
}

/** A dependency (Redis, ffmpeg) is missing or unreachable. */
export class DependencyError extends TaskhookError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { status: 503, expose: false, cause });
  }
}

/** The one place every `catch` goes through: anything thrown becomes an Error. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(`Non-error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error('Non-error thrown');
  }
}

/** The stable code for any error: ours carry one; others fall back to `error`. */
export function errorCode(err: Error): string {
  if (err instanceof TaskhookError) return err.code;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.length > 0 && code.length <= 64 ? code : 'error';
}
