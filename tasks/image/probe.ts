import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { imageError, openImage } from '../../src/media/image.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';

/** Image facts from the header (sharp metadata); decodes no pixels. */
export default defineTask({
  name: 'image.probe',
  queue: 'image',
  description: 'Format, dimensions, colour space, alpha and EXIF orientation of an image.',
  input: z.strictObject({ input: mediaInputSchema }),
  timeoutMs: 180_000,
  async handler(data, ctx) {
    const file = await resolveInput(data.input, ctx);
    let meta;
    try {
      meta = await (await openImage(file.path, ctx.config)).metadata();
    } catch (err) {
      throw imageError(err);
    }
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    const orientation = meta.orientation ?? 1;
    const swap = orientation >= 5;
    ctx.reportProgress(100);
    return {
      format: meta.format ?? null,
      width,
      height,
      /** Size as displayed once the EXIF orientation is applied. */
      display_width: swap ? height : width,
      display_height: swap ? width : height,
      orientation,
      space: meta.space ?? null,
      channels: meta.channels ?? null,
      depth: meta.depth ?? null,
      has_alpha: meta.hasAlpha ?? false,
      has_profile: meta.hasProfile ?? false,
      has_exif: meta.exif !== undefined,
      density: meta.density ?? null,
      pages: meta.pages ?? 1,
      size_bytes: file.size_bytes,
    };
  },
});
