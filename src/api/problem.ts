/**
 * RFC 9457 problem details. One middleware at the top of the app turns every
 * error into an `application/problem+json` body; it never shows a message,
 * stack or path of an error we did not raise on purpose for the client.
 */
import { STATUS_CODES } from 'node:http';
import type { Middleware } from 'koa';
import { TaskhookError, coerceError, type FieldIssue } from '../errors.js';
import type { Logger } from '../logger.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_PREFIX = 'urn:taskhook:problem:';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldIssue[];
  [extra: string]: unknown;
}

/** Members a TaskhookError's `extra` may not overwrite. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'errors', 'instance']);

function title(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function genericDetail(status: number): string {
  return status === 503 ? 'The service is temporarily unavailable.' : 'An internal error occurred.';
}

/**
 * The problem body for any thrown value. Client errors (TaskhookError, 4xx)
 * keep their message, field issues and extra members; everything else
 * becomes a generic body that reveals nothing about the failure.
 */
export function toProblem(err: unknown): Problem {
  if (err instanceof TaskhookError && err.status >= 400 && err.status < 600) {
    const status = err.status;
    if (status >= 500) {
      // 5xx keep their status and stable code (503 means "try elsewhere" to a
      // load balancer), never their message.
      return { type: TYPE_PREFIX + err.code, title: title(status), status, detail: genericDetail(status), code: err.code };
    }
    const problem: Problem = {
      type: TYPE_PREFIX + err.code,
      title: title(status),
      status,
      detail: err.expose ? err.message : title(status),
      code: err.code,
    };
    if (err.issues.length > 0) problem.errors = err.issues.map((i) => ({ field: i.field, message: i.message }));
    for (const [k, v] of Object.entries(err.extra)) if (!RESERVED.has(k)) problem[k] = v;
    return problem;
  }
  return {
    type: TYPE_PREFIX + 'internal_error',
    title: title(500),
    status: 500,
    detail: genericDetail(500),
    code: 'internal_error',
  };
}

/** The problem for a request no route matched. */
export function routeNotFound(): TaskhookError {
  return new TaskhookError('not_found', 'No route matches this path.', { status: 404 });
}

export function methodNotAllowed(): TaskhookError {
  return new TaskhookError('method_not_allowed', 'This method is not allowed on this path.', { status: 405 });
}

export function notImplemented(): TaskhookError {
  return new TaskhookError('not_implemented', 'This method is not implemented.', { status: 501, expose: true });
}

/**
 * The outermost middleware: renders errors and unmatched routes as problems.
 * Logging happens here, separately from rendering: 5xx with the full error
 * (server side only), 4xx at debug level.
 */
export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // The router answers "no route" and "wrong method" with a bare status
      // (and an Allow header); give those a body like any other error.
      if (ctx.body == null) {
        if (ctx.status === 404) throw routeNotFound();
        if (ctx.status === 405) throw methodNotAllowed();
        if (ctx.status === 501) throw notImplemented();
      }
    } catch (thrown) {
      const err = coerceError(thrown);
      const problem = toProblem(err);
      const meta = { method: ctx.method, path: ctx.path, status: problem.status, code: problem.code };
      if (problem.status >= 500) logger.error('request failed', { ...meta, error: err.message, stack: err.stack });
      else logger.debug('request rejected', { ...meta, detail: problem.detail });
      ctx.status = problem.status;
      ctx.type = PROBLEM_CONTENT_TYPE;
      ctx.body = JSON.stringify(problem);
    }
  };
}
