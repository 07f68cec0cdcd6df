/**
 * sharp helpers shared by the image tasks and video thumbnails: output
 * formats, and the translation of sharp's errors into task error types.
 */
import type { Sharp } from 'sharp';
import { z } from 'zod';
import type { Config } from '../config.js';
import { InvalidInputError, LimitExceededError, TaskhookError } from '../errors.js';

export const IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'avif'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;

export const EXTENSIONS: Record<ImageFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif' };

/** Schema pieces shared by the image tasks and video.thumbnail. */
export const dimensionSchema = z.number().int().min(1).max(65_535);
export const qualitySchema = z.number().int().min(1).max(100);
/** `#rgb`, `#rrggbb` or `#rrggbbaa`. */
export const colourSchema = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'a #rrggbb colour');

type SharpFactory = typeof import('sharp');
let sharpModule: Promise<SharpFactory> | null = null;

/**
 * sharp (libvips) is loaded on first use, not at import: the API and workers
 * that never touch an image should not carry it (tens of MB of RSS).
 */
export function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import('sharp').then((m) => m.default);
  return sharpModule;
}

/** Opens an image with the decompression-bomb guard on. */
export async function openImage(file: string, config: Pick<Config, 'MEDIA_MAX_PIXELS'>): Promise<Sharp> {
  const sharp = await loadSharp();
  return sharp(file, { limitInputPixels: config.MEDIA_MAX_PIXELS });
}

/** Sets the output format; `quality` is ignored by PNG (lossless). */
export function applyFormat(img: Sharp, format: ImageFormat, quality: number): Sharp {
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality, mozjpeg: true });
    case 'png':
      return img.png({ compressionLevel: 9 });
    case 'webp':
      return img.webp({ quality });
    case 'avif':
      // effort 2: AVIF at the default effort is too slow for a shared worker.
      return img.avif({ quality, effort: 2 });
  }
}

/** Maps sharp's exceptions to `limit_exceeded` / `invalid_input`; ours pass through. */
export function imageError(err: unknown): Error {
  if (err instanceof TaskhookError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new LimitExceededError('The image has more pixels than allowed (MEDIA_MAX_PIXELS).', { cause: err });
  }
  return new InvalidInputError(`The input is not an image that can be decoded (${message.split('\n')[0]?.slice(0, 200)}).`, {
    cause: err,
  });
}
