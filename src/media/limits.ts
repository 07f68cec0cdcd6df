/**
 * The configured media limits, each checked before the expensive step it
 * protects: bytes before reading, duration and pixels (ffprobe / image
 * header) before decoding, output size before encoding. All raise
 * `limit_exceeded` with the config name, so an operator knows what to raise.
 */
import { LimitExceededError } from '../errors.js';
import type { Config } from '../config.js';

type Limits = Pick<
  Config,
  'MEDIA_MAX_INPUT_BYTES' | 'MEDIA_MAX_DURATION_S' | 'MEDIA_MAX_PIXELS' | 'MEDIA_MAX_OUTPUT_DIMENSION'
>;

export function assertInputBytes(bytes: number, config: Pick<Limits, 'MEDIA_MAX_INPUT_BYTES'>): void {
  if (bytes > config.MEDIA_MAX_INPUT_BYTES) {
    throw new LimitExceededError(
      `The input is larger than the limit of ${config.MEDIA_MAX_INPUT_BYTES} bytes (MEDIA_MAX_INPUT_BYTES).`,
      { extra: { limit: 'MEDIA_MAX_INPUT_BYTES', max: config.MEDIA_MAX_INPUT_BYTES } },
    );
  }
}

export function assertDuration(durationS: number, config: Pick<Limits, 'MEDIA_MAX_DURATION_S'>): void {
  if (durationS > config.MEDIA_MAX_DURATION_S) {
    throw new LimitExceededError(
      `The input lasts ${durationS.toFixed(1)} s, longer than the limit of ${config.MEDIA_MAX_DURATION_S} s ` +
        '(MEDIA_MAX_DURATION_S). Trim it first or ask the operator to raise the limit.',
      { extra: { limit: 'MEDIA_MAX_DURATION_S', max: config.MEDIA_MAX_DURATION_S, actual: durationS } },
    );
  }
}

/** Guards against decompression bombs: width × height of the decoded picture. */
export function assertPixels(width: number, height: number, config: Pick<Limits, 'MEDIA_MAX_PIXELS'>): void {
  const pixels = width * height;
  if (pixels > config.MEDIA_MAX_PIXELS) {
    throw new LimitExceededError(
      `The input is ${width}×${height} (${pixels} pixels), more than the limit of ${config.MEDIA_MAX_PIXELS} ` +
        'pixels (MEDIA_MAX_PIXELS).',
      { extra: { limit: 'MEDIA_MAX_PIXELS', max: config.MEDIA_MAX_PIXELS, actual: pixels } },
    );
  }
}

export function assertOutputDimensions(
  width: number,
  height: number,
  config: Pick<Limits, 'MEDIA_MAX_OUTPUT_DIMENSION'>,
): void {
  const max = config.MEDIA_MAX_OUTPUT_DIMENSION;
  if (width > max || height > max) {
    throw new LimitExceededError(
      `The output would be ${width}×${height}; width and height may not exceed ${max} (MEDIA_MAX_OUTPUT_DIMENSION).`,
      { extra: { limit: 'MEDIA_MAX_OUTPUT_DIMENSION', max } },
    );
  }
}

export type Fit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';

export interface FitRequest {
  width?: number | undefined;
  height?: number | undefined;
  fit: Fit;
  withoutEnlargement?: boolean | undefined;
}

/**
 * Pure: the size sharp will produce for a source of `srcW`×`srcH` (same rules
 * as sharp's `resize`), so the output limit is checked before any pixel is made.
 */
export function fitDimensions(srcW: number, srcH: number, req: FitRequest): { width: number; height: number } {
  const { width: w, height: h, fit } = req;
  let out: { width: number; height: number };
  if (w === undefined && h === undefined) out = { width: srcW, height: srcH };
  else if (w !== undefined && h === undefined) out = { width: w, height: Math.max(1, Math.round((srcH * w) / srcW)) };
  else if (w === undefined && h !== undefined) out = { width: Math.max(1, Math.round((srcW * h) / srcH)), height: h };
  else if (fit === 'inside' || fit === 'outside') {
    const sx = (w as number) / srcW;
    const sy = (h as number) / srcH;
    const s = fit === 'inside' ? Math.min(sx, sy) : Math.max(sx, sy);
    out = { width: Math.max(1, Math.round(srcW * s)), height: Math.max(1, Math.round(srcH * s)) };
  } else out = { width: w as number, height: h as number };
  if (req.withoutEnlargement && (out.width > srcW || out.height > srcH)) {
    if (fit === 'cover' || fit === 'contain' || fit === 'fill') return { width: Math.min(out.width, srcW), height: Math.min(out.height, srcH) };
    return { width: srcW, height: srcH };
  }
  return out;
}
