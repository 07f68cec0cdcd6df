import path from 'node:path';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { InvalidInputError } from '../../src/errors.js';
import { progressPercent, runFfmpeg } from '../../src/media/ffmpeg.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';
import { assertDuration, assertOutputDimensions, assertPixels } from '../../src/media/limits.js';
import { moveToOutput } from '../../src/media/output.js';
import { probeMedia } from '../../src/media/probe.js';

const input = z
  .strictObject({
    input: mediaInputSchema,
    /** `mp4` = H.264 + AAC; `webm` = VP9 + Opus. */
    format: z.enum(['mp4', 'webm']).default('mp4'),
    /** Output height; width follows the aspect ratio (rounded to even). Default: the source's. */
    height: z.number().int().min(16).max(65_535).optional(),
    /** Constant quality (x264: 0–51, default 23; VP9: 0–63, default 32). Ignored when video_bitrate_kbps is set. */
    crf: z.number().int().min(0).max(63).optional(),
    video_bitrate_kbps: z.number().int().min(50).max(200_000).optional(),
    audio_bitrate_kbps: z.number().int().min(16).max(512).optional(),
    /** Trim: start offset in seconds. */
    start_s: z.number().min(0).optional(),
    /** Trim: length in seconds. */
    duration_s: z.number().positive().optional(),
  })
  .refine((v) => v.format !== 'mp4' || v.crf === undefined || v.crf <= 51, {
    message: 'crf for mp4 (x264) must be between 0 and 51',
    path: ['crf'],
  });

type Input = z.output<typeof input>;

/** Codec arguments per container; kept here so the choices are in one place. */
function codecArgs(data: Input, hasAudio: boolean): string[] {
  const mp4 = data.format === 'mp4';
  const video = mp4
    ? ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high']
    : ['-c:v', 'libvpx-vp9', '-deadline', 'good', '-cpu-used', '5', '-row-mt', '1'];
  const rate = data.video_bitrate_kbps
    ? ['-b:v', `${data.video_bitrate_kbps}k`]
    : mp4
      ? ['-crf', String(data.crf ?? 23)]
      : ['-crf', String(data.crf ?? 32), '-b:v', '0'];
  const audio = !hasAudio
    ? ['-an']
    : mp4
      ? ['-c:a', 'aac', '-b:a', `${data.audio_bitrate_kbps ?? 128}k`]
      : ['-c:a', 'libopus', '-b:a', `${data.audio_bitrate_kbps ?? 96}k`];
  const container = mp4 ? ['-movflags', '+faststart', '-f', 'mp4'] : ['-f', 'webm'];
  return [...video, ...rate, '-pix_fmt', 'yuv420p', ...audio, ...container];
}

/** Re-encodes a video to H.264/AAC MP4 or VP9/Opus WebM, optionally scaled and trimmed. */
export default defineTask({
  name: 'video.transcode',
  queue: 'video',
  description: 'Transcodes to H.264/AAC MP4 or VP9/Opus WebM with target height, CRF or bitrate, and optional trim.',
  input,
  timeoutMs: 3_600_000,
  requires: ['ffmpeg', 'ffprobe'],
  async handler(data, ctx) {
    const file = await resolveInput(data.input, ctx);
    const info = await probeMedia(ctx.config, file.path, ctx.signal);
    const video = info.video;
    if (!video) throw new InvalidInputError('The input has no video stream (for audio use audio.transcode).');
    assertDuration(info.duration_s, ctx.config);
    assertPixels(video.width, video.height, ctx.config);
    const height = data.height ?? video.height;
    const width = Math.max(2, Math.round((video.width * height) / video.height / 2) * 2);
    assertOutputDimensions(width, height, ctx.config);

    const start = data.start_s ?? 0;
    if (info.duration_s > 0 && start >= info.duration_s) {
      throw new InvalidInputError(`start_s is ${start} s but the video lasts only ${info.duration_s} s.`);
    }
    const expected = Math.min(info.duration_s - start, data.duration_s ?? Infinity);
    ctx.reportProgress(1);

    // Even dimensions: yuv420p (what every player expects) cannot have odd ones.
    const scale = data.height ? `scale=-2:${data.height}` : 'scale=trunc(iw/2)*2:trunc(ih/2)*2';
    const ext = data.format;
    const tmp = path.join(await ctx.tempDir(), `out.${ext}`);
    const args = [
      ...(start > 0 ? ['-ss', start.toFixed(3)] : []),
      '-i', file.path,
      ...(data.duration_s ? ['-t', data.duration_s.toFixed(3)] : []),
      '-map', '0:v:0', '-map', '0:a:0?', '-sn', '-dn',
      '-vf', scale,
      ...codecArgs(data, info.audio !== null),
      tmp,
    ];
    let last = -1;
    await runFfmpeg(ctx.config, args, {
      signal: ctx.signal,
      onProgress: (p) => {
        const percent = progressPercent(p.outTimeS, expected);
        if (percent === last) return;
        last = percent;
        ctx.reportProgress(percent, { stage: 'transcode', speed: p.speed });
      },
    });

    const out = await probeMedia(ctx.config, tmp, ctx.signal);
    // An abort that came after the last child exited still means: publish nothing.
    const written = await moveToOutput(ctx.config, ctx.taskId, tmp, `video.${ext}`, ctx.signal);
    ctx.reportProgress(100);
    return {
      files: [written],
      format: data.format,
      width: out.video?.width ?? width,
      height: out.video?.height ?? height,
      duration_s: out.duration_s,
      video_codec: out.video?.codec ?? null,
      audio_codec: out.audio?.codec ?? null,
      bit_rate: out.bit_rate,
      size_bytes: written.size_bytes,
    };
  },
});
