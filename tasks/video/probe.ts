import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { resolveInput, mediaInputSchema } from '../../src/media/input.js';
import { probeMedia } from '../../src/media/probe.js';
import { InvalidInputError } from '../../src/errors.js';

/** Reads a video's container and stream facts with ffprobe; decodes nothing. */
export default defineTask({
  name: 'video.probe',
  queue: 'video',
  description: 'Duration, dimensions, frame rate, codecs, bitrate and size of a video (ffprobe).',
  input: z.strictObject({ input: mediaInputSchema }),
  // Mostly download time (MEDIA_DOWNLOAD_TIMEOUT_MS defaults to 120 s).
  timeoutMs: 180_000,
  requires: ['ffprobe'],
  async handler(input, ctx) {
    const file = await resolveInput(input.input, ctx);
    const info = await probeMedia(ctx.config, file.path, ctx.signal);
    if (!info.video) throw new InvalidInputError('The input has no video stream (is it an audio file? try audio.transcode).');
    ctx.reportProgress(100);
    return {
      format: info.format,
      duration_s: info.duration_s,
      width: info.video.width,
      height: info.video.height,
      frame_rate: info.video.frame_rate,
      rotation: info.video.rotation,
      video_codec: info.video.codec,
      pix_fmt: info.video.pix_fmt,
      audio_codec: info.audio?.codec ?? null,
      audio_sample_rate: info.audio?.sample_rate ?? null,
      audio_channels: info.audio?.channels ?? null,
      bit_rate: info.bit_rate,
      size_bytes: file.size_bytes,
    };
  },
});
