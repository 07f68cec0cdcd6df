/**
 * `GET|HEAD /api/v1/files/{task_id}/{name}`: serves task outputs with
 * single-range support. Mounted behind API-key auth by the app. Traversal is
 * impossible by construction: the task id must be a UUID, the name a plain
 * file name (no separators, no leading dot), and the file a regular file
 * (not a symlink) inside the task's output directory. Files are per API key:
 * the task record must belong to the caller's tenant, and another tenant's
 * task (or one whose record retention removed) answers the same 404 as an
 * unknown one, so ids cannot be probed across keys.
 */
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { Router } from '@koa/router';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { NotFoundError } from '../../errors.js';
import { contentTypeFor, isOutputFilename, isTaskId } from '../../media/output.js';
import type { Keys } from '../../store/keys.js';
import type { AuthState } from '../auth.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Pure: parses a Range header against a file size.
 * - `null`: no usable range (absent, malformed, several ranges) → serve it all.
 * - `'unsatisfiable'`: a well-formed range outside the file → 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    // Suffix range: the last N bytes.
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export interface FilesRouteDeps {
  config: Pick<Config, 'MEDIA_OUTPUT_DIR'>;
  /** Reads the task record's tenant. */
  redis: Redis;
  keys: Keys;
}

export function createFilesRouter(deps: FilesRouteDeps): Router<AuthState> {
  const router = new Router<AuthState>();
  const root = path.resolve(deps.config.MEDIA_OUTPUT_DIR);

  // @koa/router answers HEAD with the GET route; the handler skips the body for HEAD.
  router.get('/api/v1/files/:taskId/:name', async (ctx) => {
    const { taskId = '', name = '' } = ctx.params;
    if (!isTaskId(taskId) || !isOutputFilename(name)) throw new NotFoundError('File');
    const tenant = await deps.redis.hget(deps.keys.task(taskId), 'tenant');
    if (tenant === null || tenant !== ctx.state.tenant) throw new NotFoundError('File');
    const file = path.join(root, taskId, name);
    if (path.dirname(path.dirname(file)) !== root) throw new NotFoundError('File');
    const info = await lstat(file).catch(() => null);
    if (!info?.isFile()) throw new NotFoundError('File');

    const size = info.size;
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Last-Modified', info.mtime.toUTCString());
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'private, max-age=3600');

    const range = parseRange(ctx.get('Range') || undefined, size);
    if (range === 'unsatisfiable') {
      ctx.status = 416;
      ctx.set('Content-Range', `bytes */${size}`);
      // An empty string, not null: Koa turns a null body into 204.
      ctx.body = '';
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    ctx.status = range ? 206 : 200;
    if (range) ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
    const length = size === 0 ? 0 : end - start + 1;
    // HEAD: no body at all (Koa ends the response); Content-Type and Content-Length stay.
    if (ctx.method !== 'HEAD') ctx.body = length === 0 ? Buffer.alloc(0) : createReadStream(file, { start, end });
    ctx.type = contentTypeFor(name);
    ctx.length = length;
  });

  return router;
}
