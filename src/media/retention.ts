/**
 * Prunes task output directories older than MEDIA_RETENTION_HOURS. Only
 * entries named like a task id (UUID) are touched, so a misconfigured
 * MEDIA_OUTPUT_DIR can never lose anything else.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { isTaskId } from './output.js';

/**
 * Removes `<MEDIA_OUTPUT_DIR>/<task_id>/` directories whose newest entry is
 * older than the retention window; returns how many were removed.
 */
export async function pruneOutputs(
  config: Pick<Config, 'MEDIA_OUTPUT_DIR' | 'MEDIA_RETENTION_HOURS'>,
  now: number = Date.now(),
): Promise<number> {
  const root = path.resolve(config.MEDIA_OUTPUT_DIR);
  const cutoff = now - config.MEDIA_RETENTION_HOURS * 3_600_000;
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  for (const entry of entries) {
    if (!entry.isDirectory() || !isTaskId(entry.name)) continue;
    const dir = path.join(root, entry.name);
    try {
      if ((await newestMtime(dir)) >= cutoff) continue;
      await rm(dir, { recursive: true, force: true });
      removed += 1;
    } catch (err) {
      // Another process pruned it first, or a task is writing into it: skip this round.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/** The directory's own mtime or its newest file's, whichever is later. */
async function newestMtime(dir: string): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const name of await readdir(dir)) {
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (info && info.mtimeMs > newest) newest = info.mtimeMs;
  }
  return newest;
}
