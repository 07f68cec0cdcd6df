/**
 * The JSON request body reader. The size limit is enforced while streaming,
 * before anything is parsed; bytes must be valid UTF-8; keys that could
 * reach an object's prototype downstream (`__proto__`, `constructor`,
 * `prototype`) are refused wherever they appear.
 */
import type { Context } from 'koa';
import { TaskhookError, ValidationError } from '../errors.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export class PayloadTooLargeError extends TaskhookError {
  constructor(limit: number) {
    super('payload_too_large', `The request body exceeds ${limit} bytes.`, { status: 413, extra: { limit_bytes: limit } });
  }
}

export class UnsupportedMediaTypeError extends TaskhookError {
  constructor(message = 'The request body must be application/json.') {
    super('unsupported_media_type', message, { status: 415 });
  }
}

/**
 * Whether every `charset` parameter of a Content-Type header says UTF-8 (or
 * there is none). `utf8`, a common misspelling that clients send meaning
 * UTF-8, counts as UTF-8. Parsed here rather than through Koa's `request.charset`,
 * which answers '' for a header it cannot parse, and '' reads as "no charset":
 * a malformed `; charset=utf-16; x` would then be decoded as UTF-8 after all.
 */
function declaresOnlyUtf8(contentType: string): boolean {
  const params = contentType.split(';').slice(1);
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    if (name !== 'charset') continue;
    let value = eq < 0 ? '' : param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    const charset = value.toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}

/**
 * Reads the raw body, refusing it as soon as it grows past `maxBytes` (413).
 * A client that goes away mid-upload is a 400 `body_unreadable`, the client's
 * doing, never a 500. Plain stream events, not `for await`: the async
 * iterator and its end-of-stream plumbing were a good part of what one
 * submit allocated. Shared with the dashboard's form reader.
 */
export function readLimited(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > maxBytes) return Promise.reject(new PayloadTooLargeError(maxBytes));
  const req = ctx.req;
  const unreadable = (): TaskhookError => new TaskhookError('body_unreadable', 'The request body could not be read.', { status: 400 });
  // Events already past (as `for await` would see them): nothing more will come.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(unreadable());
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop reading: the rest of the upload is not wanted.
        req.pause();
        ctx.set('Connection', 'close');
        finish(new PayloadTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(null);
    const onError = (): void => finish(unreadable());
    // Closed before its end: the client went away mid-upload.
    const onClose = (): void => finish(unreadable());
    req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}

/** The dotted path of the first forbidden key in `value`, or null. Iterative: deep input cannot overflow the stack. */
export function findForbiddenKey(value: unknown): string | null {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop() as { v: unknown; path: string };
    if (v === null || typeof v !== 'object') continue;
    for (const key of Object.keys(v)) {
      const child = path === '' ? key : `${path}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) return child;
      stack.push({ v: (v as Record<string, unknown>)[key], path: child });
    }
  }
  return null;
}

/** Stateless between calls (no `stream` option), so one instance serves every request. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Whether `text` could hold a forbidden key at all. A key decodes to one of
 * them only if the name is written out or spelled with `\u` escapes, so most
 * bodies skip the walk over every key.
 */
function mayHoldForbiddenKey(text: string): boolean {
  return text.includes('\\u') || text.includes('__proto__') || text.includes('constructor') || text.includes('prototype');
}

/** Parses bytes as a JSON document; 400 naming `body` for bad UTF-8 or JSON, naming the path for a forbidden key. */
export function parseJsonBytes(bytes: Buffer): unknown {
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new ValidationError('The request body is not valid UTF-8.', [{ field: 'body', message: 'invalid UTF-8' }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('The request body is not valid JSON.', [{ field: 'body', message: 'invalid JSON' }]);
  }
  const bad = mayHoldForbiddenKey(text) ? findForbiddenKey(value) : null;
  if (bad !== null) {
    throw new ValidationError('The request body contains a forbidden key.', [
      { field: bad, message: 'this key name is not allowed' },
    ]);
  }
  return value;
}

/**
 * Reads and parses a JSON request body: 415 unless `Content-Type:
 * application/json` with no charset or `charset=utf-8` (JSON is UTF-8, RFC
 * 8259; a UTF-16 body decoded as UTF-8 would be misread, not refused), 413
 * past `maxBytes` (declared or streamed), 400 for anything that is not a
 * clean JSON document.
 */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  if (ctx.request.type.trim().toLowerCase() !== 'application/json') throw new UnsupportedMediaTypeError();
  if (!declaresOnlyUtf8(ctx.get('Content-Type'))) {
    throw new UnsupportedMediaTypeError('The request body must be application/json in UTF-8 (no charset, or charset=utf-8).');
  }
  return parseJsonBytes(await readLimited(ctx, maxBytes));
}
