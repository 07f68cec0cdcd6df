import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { InvalidInputError } from '../../src/errors.js';
import { runFfmpeg } from '../../src/media/ffmpeg.js';
import { EXTENSIONS, FITS, IMAGE_FORMATS, applyFormat, dimensionSchema, imageError, openImage, qualitySchema } from '../../src/media/image.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';
import { assertOutputDimensions, assertPixels, fitDimensions } from '../../src/media/limits.js';
import { writeOutput } from '../../src/media/output.js';
import { probeMedia } from '../../src/media/probe.js';

const THUMB_FORMATS = IMAGE_FORMATS.filter((f) => f !== 'avif') as ['jpeg', 'png', 'webp'];

const input = z
  .strictObject({
    input: mediaInputSchema,
    /** Seconds from the start. Wins over at_percent. */
    at_s: z.number().min(0).optional(),
    /** Position as a share of the duration. @default 10 */
    at_percent: z.number().min(0).max(100).optional(),
    width: dimensionSchema.optional(),
    height: dimensionSchema.optional(),
    fit: z.enum(FITS).default('cover'),
    format: z.enum(THUMB_FORMATS).default('jpeg'),
    quality: qualitySchema.default(80),
  })
  .refine((v) => v.at_s === undefined || v.at_percent === undefined, {
    message: 'give at_s or at_percent, not both',
    path: ['at_s'],
  });

/** One frame of a video as an image, resized with sharp's fit rules. */
export default defineTask({
  name: 'video.thumbnail',
  queue: 'video',
  description: 'Extracts one frame (at_s or at_percent) as a JPEG, WebP or PNG, optionally resized.',
  input,
  timeoutMs: 180_000,
  requires: ['ffmpeg', 'ffprobe'],
  async handler(data, ctx) {
    const file = await resolveInput(data.input, ctx);
    const info = await probeMedia(ctx.config, file.path, ctx.signal);
    if (!info.video) throw new InvalidInputError('The input has no video stream to take a thumbnail from.');
    // Before any frame is decoded: a tiny file can still declare an enormous picture.
    assertPixels(info.video.width, info.video.height, ctx.config);
    const size = fitDimensions(info.video.width, info.video.height, { width: data.width, height: data.height, fit: data.fit });
    assertOutputDimensions(size.width, size.height, ctx.config);
    ctx.reportProgress(20);

    const duration = info.duration_s;
    const at = data.at_s ?? ((data.at_percent ?? 10) / 100) * duration;
    if (duration > 0 && at > duration) {
      throw new InvalidInputError(`at_s is ${at} s but the video lasts only ${duration} s.`);
    }
    // Seeking exactly to the end finds no frame; stay a couple of frames before it.
    const frameS = info.video.frame_rate > 0 ? 2 / info.video.frame_rate : 0.1;
    const seek = duration > 0 ? Math.max(0, Math.min(at, duration - frameS)) : at;

    const frame = path.join(await ctx.tempDir(), 'frame.png');
    await runFfmpeg(
      ctx.config,
      ['-ss', seek.toFixed(3), '-i', file.path, '-map', '0:v:0', '-frames:v', '1', '-an', '-sn', '-compression_level', '1', frame],
      { signal: ctx.signal },
    );
    const extracted = await stat(frame).catch(() => null);
    if (!extracted || extracted.size === 0) throw new InvalidInputError(`No frame could be decoded at ${seek.toFixed(3)} s.`);
    ctx.reportProgress(70);

    let out: { data: Buffer; info: { width: number; height: number } };
    try {
      let img = await openImage(frame, ctx.config);
      if (data.width !== undefined || data.height !== undefined) {
        img = img.resize({ width: data.width, height: data.height, fit: data.fit });
      }
      out = await applyFormat(img, data.format, data.quality).toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw imageError(err);
    }
    // sharp cannot be interrupted; at least do not publish a result after an abort.
    const written = await writeOutput(ctx.config, ctx.taskId, `thumbnail.${EXTENSIONS[data.format]}`, out.data, ctx.signal);
    ctx.reportProgress(100);
    return {
      files: [written],
      width: out.info.width,
      height: out.info.height,
      format: data.format,
      at_s: Number(seek.toFixed(3)),
      source: { width: info.video.width, height: info.video.height, duration_s: duration, codec: info.video.codec },
    };
  },
});
