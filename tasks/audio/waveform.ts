import { z } from 'zod';
import { defineTask } from '../../src/tasks/define.js';
import { InvalidInputError } from '../../src/errors.js';
import { progressPercent, runFfmpeg } from '../../src/media/ffmpeg.js';
import { colourSchema, dimensionSchema, loadSharp } from '../../src/media/image.js';
import { mediaInputSchema, resolveInput } from '../../src/media/input.js';
import { assertDuration, assertOutputDimensions } from '../../src/media/limits.js';
import { writeOutput } from '../../src/media/output.js';
import { PeakAccumulator, parseColour, renderWaveform } from '../../src/media/peaks.js';
import { probeMedia } from '../../src/media/probe.js';

/** Decoding rate for peaks: plenty for a picture, cheap for an hour of audio. */
const PCM_RATE = 8000;

const input = z.strictObject({
  input: mediaInputSchema,
  /** Number of peaks in the JSON. */
  points: z.number().int().min(1).max(100_000).default(1000),
  width: dimensionSchema.default(1800),
  height: dimensionSchema.default(280),
  colour: colourSchema.default('#3b82f6'),
  /** Transparent by default. */
  background: colourSchema.default('#00000000'),
});

/** A PNG waveform and a peaks JSON (N points, 0–1) of an audio track. */
export default defineTask({
  name: 'audio.waveform',
  queue: 'audio',
  description: 'Renders a PNG waveform and a peaks JSON (N points) of an audio track, with its duration.',
  input,
  timeoutMs: 900_000,
  requires: ['ffmpeg', 'ffprobe'],
  async handler(data, ctx) {
    assertOutputDimensions(data.width, data.height, ctx.config);
    const file = await resolveInput(data.input, ctx);
    const info = await probeMedia(ctx.config, file.path, ctx.signal);
    if (!info.audio) throw new InvalidInputError('The input has no audio stream.');
    assertDuration(info.duration_s, ctx.config);
    ctx.reportProgress(1);

    const acc = new PeakAccumulator(data.points);
    let last = -1;
    await runFfmpeg(
      ctx.config,
      ['-i', file.path, '-map', '0:a:0', '-vn', '-ac', '1', '-ar', String(PCM_RATE), '-f', 's16le', '-c:a', 'pcm_s16le', 'pipe:1'],
      {
        signal: ctx.signal,
        onStdout: (chunk) => acc.push(chunk),
        onProgress: (p) => {
          const percent = Math.min(90, progressPercent(p.outTimeS, info.duration_s));
          if (percent === last) return;
          last = percent;
          ctx.reportProgress(percent, { stage: 'decode' });
        },
      },
    );
    const peaks = acc.finish();

    const raw = renderWaveform(peaks, data.width, data.height, parseColour(data.colour), parseColour(data.background));
    const sharp = await loadSharp();
    const png = await sharp(raw, { raw: { width: data.width, height: data.height, channels: 4 } }).png().toBuffer();
    // sharp cannot be interrupted; at least do not publish a result after an abort.
    const image = await writeOutput(ctx.config, ctx.taskId, 'waveform.png', png, ctx.signal);
    const json = JSON.stringify({ version: 1, points: peaks.length, duration_s: info.duration_s, sample_rate: PCM_RATE, peaks });
    const peaksFile = await writeOutput(ctx.config, ctx.taskId, 'peaks.json', json, ctx.signal);
    ctx.reportProgress(100);
    return {
      files: [image, peaksFile],
      duration_s: info.duration_s,
      points: peaks.length,
      width: data.width,
      height: data.height,
    };
  },
});
