import path from 'node:path';
import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { InvalidInputError } from '../../src/errors.js';
import { progressPercent, runFfmpeg } from '../../src/media/ffmpeg.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';
import { assertDuration } from '../../src/media/limits.js';
import { moveToOutput } from '../../src/media/output.js';
import { probeMedia } from '../../src/media/probe.js';

const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000] as const;
const OPUS_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** Per format: file extension, codec arguments, default bitrate (null: lossless). */
const FORMATS = {
  mp3: { ext: 'mp3', args: ['-c:a', 'libmp3lame', '-f', 'mp3'], kbps: 192, maxRate: 48_000 },
  aac: { ext: 'm4a', args: ['-c:a', 'aac', '-movflags', '+faststart', '-f', 'mp4'], kbps: 160, maxRate: 96_000 },
  opus: { ext: 'opus', args: ['-c:a', 'libopus', '-f', 'ogg'], kbps: 96, maxRate: 48_000 },
  flac: { ext: 'flac', args: ['-c:a', 'flac', '-f', 'flac'], kbps: null, maxRate: 96_000 },
  wav: { ext: 'wav', args: ['-c:a', 'pcm_s16le', '-f', 'wav'], kbps: null, maxRate: 96_000 },
} as const;

/** EBU R128 targets; the defaults suit speech and podcasts. */
const loudnormSchema = z.strictObject({
  /** Integrated loudness, LUFS. @default -16 */
  i: z.number().min(-70).max(-5).default(-16),
  /** True peak, dBTP. @default -1.5 */
  tp: z.number().min(-9).max(0).default(-1.5),
  /** Loudness range, LU. @default 11 */
  lra: z.number().min(1).max(50).default(11),
});

const input = z
  .strictObject({
    input: mediaInputSchema,
    format: z.enum(['mp3', 'aac', 'opus', 'flac', 'wav']).default('mp3'),
    /** Ignored for flac and wav. Defaults: mp3 192, aac 160, opus 96. */
    bitrate_kbps: z.number().int().min(8).max(512).optional(),
    sample_rate: z.union(SAMPLE_RATES.map((r) => z.literal(r))).optional(),
    channels: z.union([z.literal(1), z.literal(2)]).optional(),
    /** EBU R128 loudness normalisation (ffmpeg loudnorm, single pass): true for defaults, or targets. */
    loudnorm: z.union([z.boolean(), loudnormSchema]).default(false),
  })
  .refine((v) => v.format !== 'opus' || v.sample_rate === undefined || OPUS_RATES.includes(v.sample_rate), {
    message: `opus supports sample rates ${OPUS_RATES.join(', ')}`,
    path: ['sample_rate'],
  })
  .refine((v) => v.sample_rate === undefined || v.sample_rate <= FORMATS[v.format].maxRate, {
    message: 'sample rate too high for this format',
    path: ['sample_rate'],
  });

/** Converts audio (or a video's soundtrack) to mp3, aac, opus, flac or wav. */
export default defineTask({
  name: 'audio.transcode',
  queue: 'audio',
  description: 'Transcodes audio to mp3/aac/opus/flac/wav with bitrate, sample rate, channels and optional EBU R128 loudnorm.',
  input,
  timeoutMs: 1_800_000,
  requires: ['ffmpeg', 'ffprobe'],
  async handler(data, ctx) {
    const file = await resolveInput(data.input, ctx);
    const info = await probeMedia(ctx.config, file.path, ctx.signal);
    if (!info.audio) throw new InvalidInputError('The input has no audio stream.');
    assertDuration(info.duration_s, ctx.config);
    ctx.reportProgress(1);

    const spec = FORMATS[data.format];
    const loud = data.loudnorm === false ? null : loudnormSchema.parse(data.loudnorm === true ? {} : data.loudnorm);
    // loudnorm resamples to 192 kHz internally, so an output rate must always be chosen with it.
    const sourceRate = info.audio.sample_rate || 48_000;
    const rate =
      data.sample_rate ??
      (data.format === 'opus' ? 48_000 : loud ? Math.min(sourceRate, spec.maxRate) : undefined);
    const tmp = path.join(await ctx.tempDir(), `out.${spec.ext}`);
    const args = [
      '-i', file.path,
      '-map', '0:a:0', '-vn', '-sn', '-dn',
      ...(loud ? ['-af', `loudnorm=I=${loud.i}:TP=${loud.tp}:LRA=${loud.lra}`] : []),
      ...(rate ? ['-ar', String(rate)] : []),
      ...(data.channels ? ['-ac', String(data.channels)] : []),
      ...(spec.kbps ? ['-b:a', `${data.bitrate_kbps ?? spec.kbps}k`] : []),
      ...spec.args,
      tmp,
    ];
    let last = -1;
    await runFfmpeg(ctx.config, args, {
      signal: ctx.signal,
      onProgress: (p) => {
        const percent = progressPercent(p.outTimeS, info.duration_s);
        if (percent === last) return;
        last = percent;
        ctx.reportProgress(percent, { stage: 'transcode', speed: p.speed });
      },
    });

    const out = await probeMedia(ctx.config, tmp, ctx.signal);
    // An abort that came after the last child exited still means: publish nothing.
    const written = await moveToOutput(ctx.config, ctx.taskId, tmp, `audio.${spec.ext}`, ctx.signal);
    ctx.reportProgress(100);
    return {
      files: [written],
      format: data.format,
      codec: out.audio?.codec ?? null,
      duration_s: out.duration_s,
      sample_rate: out.audio?.sample_rate ?? null,
      channels: out.audio?.channels ?? null,
      bit_rate: out.bit_rate,
      size_bytes: written.size_bytes,
      loudnorm: loud,
    };
  },
});
