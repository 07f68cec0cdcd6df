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
  constructor() {
    super('unsupported_media_type', 'The request body must be application/json.', { status: 415 });
  }
}

/** Reads the raw body, refusing it as soon as it grows past `maxBytes`. */
async function readLimited(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop reading: the rest of the upload is not wanted.
        ctx.req.pause();
        ctx.set('Connection', 'close');
        throw new PayloadTooLargeError(maxBytes);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof PayloadTooLargeError) throw err;
    throw new TaskhookError('body_unreadable', 'The request body could not be read.', { status: 400 });
  }
  return Buffer.concat(chunks, size);
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

/** Parses bytes as a JSON document; 400 naming `body` for bad UTF-8 or JSON, naming the path for a forbidden key. */
export function parseJsonBytes(bytes: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError('The request body is not valid UTF-8.', [{ field: 'body', message: 'invalid UTF-8' }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('The request body is not valid JSON.', [{ field: 'body', message: 'invalid JSON' }]);
  }
  const bad = findForbiddenKey(value);
  if (bad !== null) {
    throw new ValidationError('The request body contains a forbidden key.', [
      { field: bad, message: 'this key name is not allowed' },
    ]);
  }
  return value;
}

/**
 * Reads and parses a JSON request body: 415 unless `Content-Type:
 * application/json`, 413 past `maxBytes` (declared or streamed), 400 for
 * anything that is not a clean JSON document.
 */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  if (ctx.request.type.trim().toLowerCase() !== 'application/json') throw new UnsupportedMediaTypeError();
  return parseJsonBytes(await readLimited(ctx, maxBytes));
}
