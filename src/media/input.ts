/**
 * Resolves `task_data.input` to a local file: either an `https://` URL
 * (`http://` when CALLBACK_ALLOW_HTTP) downloaded through the task's guarded
 * dispatcher into its temp dir, or a path relative to MEDIA_INPUT_DIR that
 * must stay inside it after every symlink is resolved.
 */
import { createWriteStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { z } from 'zod';
import { InputUnreachableError, InvalidInputError, TaskhookError } from '../errors.js';
import { redactUrl } from '../logger.js';
import type { TaskContext } from '../tasks/define.js';
import { abortReason } from './ffmpeg.js';
import { assertInputBytes } from './limits.js';

/** The `input` field every media task takes. */
export const mediaInputSchema = z
  .string()
  .min(1)
  .max(4096)
  .describe('An https:// URL, or a path relative to MEDIA_INPUT_DIR');

export interface ResolvedInput {
  /** Absolute path of a local, regular file. */
  path: string;
  size_bytes: number;
  source: 'url' | 'file';
}

type InputContext = Pick<TaskContext, 'config' | 'dispatcher' | 'signal' | 'tempDir'>;

export async function resolveInput(input: string, ctx: InputContext): Promise<ResolvedInput> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return download(input, ctx);
  return localFile(input, ctx.config.MEDIA_INPUT_DIR, ctx.config.MEDIA_MAX_INPUT_BYTES);
}

/** Path checks that need no file system: relative, no `..`, no NUL, no drive letters. */
export function checkRelativePath(rel: string): void {
  if (rel.includes('\0')) throw new InvalidInputError('The input path contains a NUL byte.');
  if (path.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel) || rel.startsWith('\\')) {
    throw new InvalidInputError('The input path must be relative to MEDIA_INPUT_DIR, not absolute.');
  }
  if (rel.split(/[\\/]+/).includes('..')) {
    throw new InvalidInputError('The input path may not contain "..".');
  }
}

async function localFile(rel: string, inputDir: string, maxBytes: number): Promise<ResolvedInput> {
  checkRelativePath(rel);
  let root: string;
  try {
    root = await realpath(inputDir);
  } catch (cause) {
    throw new InputUnreachableError('The media input directory (MEDIA_INPUT_DIR) does not exist on this worker.', { cause });
  }
  let real: string;
  try {
    real = await realpath(path.join(root, rel));
  } catch (cause) {
    throw new InputUnreachableError(`The input file "${rel}" does not exist in the input directory.`, { cause });
  }
  // realpath resolved every symlink: containment is checked on where the file really is.
  const relative = path.relative(root, real);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new InvalidInputError(`The input path "${rel}" leads outside the input directory.`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw new InvalidInputError(`The input path "${rel}" is not a regular file.`);
  assertInputBytes(info.size, { MEDIA_MAX_INPUT_BYTES: maxBytes });
  return { path: real, size_bytes: info.size, source: 'file' };
}

async function download(url: string, ctx: InputContext): Promise<ResolvedInput> {
  const { config } = ctx;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError('The input URL is not a valid URL.');
  }
  const allowed = config.CALLBACK_ALLOW_HTTP ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(parsed.protocol)) {
    throw new InvalidInputError(`Input URLs must use ${allowed.map((p) => p.slice(0, -1)).join(' or ')}.`);
  }
  const shown = redactUrl(url);
  const timeout = AbortSignal.timeout(config.MEDIA_DOWNLOAD_TIMEOUT_MS);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const file = path.join(await ctx.tempDir(), `input${safeExtension(parsed.pathname)}`);
  let size = 0;
  try {
    const res = await request(parsed, { method: 'GET', dispatcher: ctx.dispatcher, signal });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump().catch(() => undefined);
      throw new InputUnreachableError(`Downloading the input from ${shown} failed with HTTP ${res.statusCode}.`, {
        extra: { status_code: res.statusCode },
      });
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared)) {
      try {
        assertInputBytes(declared, config);
      } catch (err) {
        res.body.destroy();
        throw err;
      }
    }
    const counter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        size += chunk.length;
        try {
          // Stop as soon as the cap is crossed: a missing or lying Content-Length must not fill the disk.
          assertInputBytes(size, config);
          done(null, chunk);
        } catch (err) {
          done(err as Error);
        }
      },
    });
    await pipeline(res.body, counter, createWriteStream(file), { signal });
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    if (timeout.aborted) {
      throw new InputUnreachableError(
        `Downloading the input from ${shown} took longer than ${config.MEDIA_DOWNLOAD_TIMEOUT_MS} ms (MEDIA_DOWNLOAD_TIMEOUT_MS).`,
      );
    }
    if (err instanceof TaskhookError) throw err;
    throw new InputUnreachableError(`Downloading the input from ${shown} failed: ${describeNetError(err)}.`, { cause: err });
  }
  return { path: file, size_bytes: size, source: 'url' };
}

/** Keeps a short, harmless extension from the URL (helps format detection); drops anything odd. */
function safeExtension(pathname: string): string {
  const ext = path.extname(pathname).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

function describeNetError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'the connection closed unexpectedly',
  };
  if (code && known[code]) return known[code];
  return typeof e.message === 'string' ? e.message.slice(0, 200) : 'unknown error';
}
