/**
 * Task outputs live in `MEDIA_OUTPUT_DIR/<task_id>/<filename>`. Every file is
 * written under a dot-prefixed temporary name and renamed into place, so the
 * files route (which refuses dot names) never serves half a file.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { abortReason } from './ffmpeg.js';

export interface OutputFile {
  filename: string;
  /** Absolute path on the worker's disk. */
  filepath: string;
  size_bytes: number;
  content_type: string;
  /** `${PUBLIC_BASE_URL}/api/v1/files/{task_id}/{filename}` */
  download_url: string;
}

type OutputConfig = Pick<Config, 'MEDIA_OUTPUT_DIR' | 'PUBLIC_BASE_URL'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Plain names only: no separators, no leading dot, nothing to traverse with. */
const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function isTaskId(id: string): boolean {
  return UUID.test(id);
}

export function isOutputFilename(name: string): boolean {
  return FILENAME.test(name) && !name.includes('..');
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.opus': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.flac': 'audio/flac',
  '.wav': 'audio/wav',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[path.extname(filename).toLowerCase()] ?? 'application/octet-stream';
}

/** The task's output directory (absolute). */
export function taskOutputDir(config: Pick<Config, 'MEDIA_OUTPUT_DIR'>, taskId: string): string {
  if (!isTaskId(taskId)) throw new TypeError(`Output directories are named by task id (a UUID), got "${taskId}"`);
  return path.resolve(config.MEDIA_OUTPUT_DIR, taskId);
}

function targetPath(config: OutputConfig, taskId: string, filename: string): string {
  if (!isOutputFilename(filename)) throw new TypeError(`"${filename}" is not a plain output file name`);
  return path.join(taskOutputDir(config, taskId), filename);
}

function partialName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
}

/** Publishing after an abort is refused: a cancelled or timed-out task leaves no result behind. */
function refuseIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/**
 * Writes `data` atomically as an output and describes it. With the task's
 * `signal`, nothing is written once it has fired (work that cannot be
 * interrupted, like sharp's, may end after an abort).
 */
export async function writeOutput(config: OutputConfig, taskId: string, filename: string, data: Uint8Array | string, signal?: AbortSignal): Promise<OutputFile> {
  refuseIfAborted(signal);
  const target = targetPath(config, taskId, filename);
  await mkdir(path.dirname(target), { recursive: true });
  const partial = partialName(target);
  try {
    await writeFile(partial, data);
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return describeOutput(config, taskId, filename);
}

/**
 * Moves a finished file (usually from the task's temp dir) into the outputs.
 * A rename when both are on one file system, else copy-to-partial then rename.
 * With the task's `signal`, nothing is moved once it has fired.
 */
export async function moveToOutput(config: OutputConfig, taskId: string, source: string, filename: string, signal?: AbortSignal): Promise<OutputFile> {
  refuseIfAborted(signal);
  const target = targetPath(config, taskId, filename);
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await rename(source, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const partial = partialName(target);
    try {
      await copyFile(source, partial);
      await rename(partial, target);
    } catch (copyErr) {
      await rm(partial, { force: true });
      throw copyErr;
    }
    await rm(source, { force: true });
  }
  return describeOutput(config, taskId, filename);
}

export async function describeOutput(config: OutputConfig, taskId: string, filename: string): Promise<OutputFile> {
  const filepath = targetPath(config, taskId, filename);
  const info = await stat(filepath);
  return {
    filename,
    filepath,
    size_bytes: info.size,
    content_type: contentTypeFor(filename),
    download_url: `${config.PUBLIC_BASE_URL}/api/v1/files/${taskId}/${encodeURIComponent(filename)}`,
  };
}
