import type sharp from 'sharp';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import {
  EXTENSIONS,
  FITS,
  IMAGE_FORMATS,
  type ImageFormat,
  applyFormat,
  colourSchema,
  dimensionSchema,
  imageError,
  openImage,
  qualitySchema,
} from '../../src/media/image.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';
import { assertOutputDimensions, assertPixels, fitDimensions } from '../../src/media/limits.js';
import { writeOutput } from '../../src/media/output.js';

const input = z.strictObject({
  input: mediaInputSchema,
  width: dimensionSchema.optional(),
  height: dimensionSchema.optional(),
  /** sharp's fit rules. */
  fit: z.enum(FITS).default('inside'),
  /** Default: the input's format when it is one of these, else jpeg. */
  format: z.enum(IMAGE_FORMATS).optional(),
  quality: qualitySchema.default(80),
  /** Rotate per the EXIF orientation tag (phone photos), then drop the tag. */
  auto_rotate: z.boolean().default(true),
  /** Keep EXIF/ICC/XMP metadata; stripped by default (privacy: GPS, camera serials). */
  keep_metadata: z.boolean().default(false),
  /** Never scale up. */
  without_enlargement: z.boolean().default(false),
  /** Letterbox colour for fit=contain; transparent when omitted (black for jpeg). */
  background: colourSchema.optional(),
});

/** Resizes and re-encodes an image with sharp. */
export default defineTask({
  name: 'image.resize',
  queue: 'image',
  description: 'Resizes an image (width/height/fit) to jpeg, png, webp or avif; EXIF auto-rotate; metadata stripped by default.',
  input,
  timeoutMs: 180_000,
  async handler(data, ctx) {
    const file = await resolveInput(data.input, ctx);
    let meta: sharp.Metadata;
    try {
      // Header only: the pixel limit is checked before anything is decoded.
      meta = await (await openImage(file.path, ctx.config)).metadata();
    } catch (err) {
      throw imageError(err);
    }
    const srcW = meta.width ?? 0;
    const srcH = meta.height ?? 0;
    assertPixels(srcW, srcH, ctx.config);
    // Orientations 5–8 swap width and height once applied.
    const swap = data.auto_rotate && (meta.orientation ?? 1) >= 5;
    const [w, h] = swap ? [srcH, srcW] : [srcW, srcH];
    const predicted = fitDimensions(w, h, {
      width: data.width,
      height: data.height,
      fit: data.fit,
      withoutEnlargement: data.without_enlargement,
    });
    assertOutputDimensions(predicted.width, predicted.height, ctx.config);
    const sourceFormat = (IMAGE_FORMATS as readonly string[]).includes(meta.format ?? '') ? (meta.format as ImageFormat) : null;
    const format: ImageFormat = data.format ?? sourceFormat ?? 'jpeg';
    ctx.reportProgress(20);

    let out: { data: Buffer; info: sharp.OutputInfo };
    try {
      let img = await openImage(file.path, ctx.config);
      if (data.auto_rotate) img = img.rotate();
      if (data.width !== undefined || data.height !== undefined) {
        img = img.resize({
          width: data.width,
          height: data.height,
          fit: data.fit,
          withoutEnlargement: data.without_enlargement,
          ...(data.background ? { background: data.background } : {}),
        });
      }
      if (data.keep_metadata) img = img.keepMetadata();
      out = await applyFormat(img, format, data.quality).toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw imageError(err);
    }
    // sharp cannot be interrupted; at least do not publish a result after an abort.
    const written = await writeOutput(ctx.config, ctx.taskId, `image.${EXTENSIONS[format]}`, out.data, ctx.signal);
    ctx.reportProgress(100);
    return {
      files: [written],
      format,
      width: out.info.width,
      height: out.info.height,
      size_bytes: written.size_bytes,
      source: { format: meta.format ?? null, width: w, height: h, orientation: meta.orientation ?? null },
    };
  },
});
