/**
 * RFC 9457 problem details. One middleware at the top of the app turns every
 * error into an `application/problem+json` body; it never shows a message,
 * stack or path of an error we did not raise on purpose for the client.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Context, Middleware } from 'koa';
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
        // The router answers 501 for a method it has no route for at all (TRACE,
        // PROPFIND …): that is the client's mistake, not a server failure.
        if (ctx.status === 501) {
          const allow = ctx.response.get('Allow');
          if (allow) throw methodNotAllowed();
          ctx.remove('Allow');
          throw routeNotFound();
        }
      }
    } catch (thrown) {
      const err = coerceError(thrown);
      const problem = toProblem(err);
      const meta = { method: ctx.method, path: ctx.path, status: problem.status, code: problem.code };
      // A 503 is a dependency being down (Redis, the queue) or the process
      // draining: expected while it lasts, and every request would log the
      // same stack. Anything else 5xx is a bug.
      if (problem.status === 503) logger.warn('request refused: service unavailable', { ...meta, error: err.message });
      else if (problem.status >= 500) logger.error('request failed', { ...meta, error: err.message, stack: err.stack });
      else logger.debug('request rejected', { ...meta, detail: problem.detail });
      renderProblem(ctx, err);
    }
  };
}

/** Answers with `err` as a problem+json body (status, stable code; a 5xx never shows its message). */
export function renderProblem(ctx: Context, err: unknown): void {
  const problem = toProblem(err);
  ctx.status = problem.status;
  ctx.type = PROBLEM_CONTENT_TYPE;
  ctx.body = JSON.stringify(problem);
}

/**
 * `server.on('clientError', …)`: requests Node's HTTP parser refuses (bad
 * method, malformed header, bad Content-Length, headers over the size limit)
 * never reach the app; answer them with a problem body too, instead of
 * Node's bare `400 Bad Request`.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Partial<Socket>).bytesWritten) {
    socket.destroy();
    return;
  }
  const [status, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout']
        : [400, 'bad_request'];
  const problem: Problem = {
    type: TYPE_PREFIX + code,
    title: title(status),
    status,
    detail: status === 400 ? 'The request is not valid HTTP.' : title(status),
    code,
  };
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${status} ${title(status)}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * `server.on('checkExpectation', …)`: an `Expect` header other than
 * `100-continue` never reaches the app either; Node would answer a bare 417.
 */
export function expectationFailedHandler(_req: IncomingMessage, res: ServerResponse): void {
  const problem: Problem = {
    type: TYPE_PREFIX + 'expectation_failed',
    title: title(417),
    status: 417,
    detail: 'Only "Expect: 100-continue" is supported.',
    code: 'expectation_failed',
  };
  res.writeHead(417, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'X-Content-Type-Options': 'nosniff', Connection: 'close' });
  res.end(JSON.stringify(problem));
}

/** Installs both server-level handlers, so even requests the app never sees get a problem body. */
export function attachProblemHandlers(server: Server): void {
  server.on('clientError', clientErrorHandler);
  server.on('checkExpectation', expectationFailedHandler);
}
