import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { testConfig, type Config } from '../../src/config.js';
import { probeMedia } from '../../src/media/probe.js';
import audioTranscode from '../../tasks/audio/transcode.js';
import waveform from '../../tasks/audio/waveform.js';
import { getFixtures, type Fixtures } from '../helpers/fixtures.js';
import { errorCode, runTask, type FileOut } from '../helpers/task-context.js';



describe('tasks/audio', () => {
  let fx: Fixtures;
  let out: string;
  let config: Config;
  const signal = new AbortController().signal;

  before(async () => {
    fx = await getFixtures();
    out = await mkdtemp(path.join(os.tmpdir(), 'taskhook-audio-out-'));
    config = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out });
  });
  after(() => rm(out, { recursive: true, force: true }));

  describe('audio.transcode', () => {
    const cases = [
      { format: 'mp3', codec: 'mp3', file: 'audio.mp3', type: 'audio/mpeg' },
      { format: 'aac', codec: 'aac', file: 'audio.m4a', type: 'audio/mp4' },
      { format: 'opus', codec: 'opus', file: 'audio.opus', type: 'audio/ogg' },
      { format: 'flac', codec: 'flac', file: 'audio.flac', type: 'audio/flac' },
      { format: 'wav', codec: 'pcm_s16le', file: 'audio.wav', type: 'audio/wav' },
    ];
    for (const c of cases) {
      it(`produces ${c.format} (${c.codec}) of the same duration`, async () => {
        const { result, progress } = await runTask(audioTranscode, { input: 'audio.wav', format: c.format }, config);
        const [file] = result.files as FileOut[];
        expect(file).to.include({ filename: c.file, content_type: c.type });
        const info = await probeMedia(config, file?.filepath as string, signal);
        expect(info.video).to.equal(null);
        expect(info.audio?.codec).to.equal(c.codec);
        expect(info.duration_s).to.be.within(1.9, 2.2);
        expect(progress.at(-1)?.percent).to.equal(100);
      });
    }

    it('applies bitrate, sample rate, channels and loudnorm', async () => {
      const { result } = await runTask(
        audioTranscode,
        { input: 'audio.wav', format: 'mp3', bitrate_kbps: 64, sample_rate: 22050, channels: 2, loudnorm: { i: -20 } },
        config,
      );
      const info = await probeMedia(config, (result.files as FileOut[])[0]?.filepath as string, signal);
      expect(info.audio).to.include({ sample_rate: 22050, channels: 2 });
      expect(info.audio?.bit_rate).to.be.within(56_000, 72_000);
      expect(result.loudnorm).to.deep.equal({ i: -20, tp: -1.5, lra: 11 });
    });

    it('takes the soundtrack of a video', async () => {
      const { result } = await runTask(audioTranscode, { input: 'video.mp4', format: 'opus', loudnorm: true }, config);
      expect(result).to.include({ codec: 'opus', sample_rate: 48000 });
    });

    it('validates format-specific sample rates', () => {
      expect(audioTranscode.input.safeParse({ input: 'a.wav', format: 'opus', sample_rate: 44100 }).success).to.equal(false);
      expect(audioTranscode.input.safeParse({ input: 'a.wav', format: 'mp3', sample_rate: 96000 }).success).to.equal(false);
      expect(audioTranscode.input.safeParse({ input: 'a.wav', format: 'flac', sample_rate: 96000 }).success).to.equal(true);
    });

    it('fails invalid_input on corrupt input, limit_exceeded on too long input', async () => {
      expect(await errorCode(runTask(audioTranscode, { input: 'corrupt.mp4' }, config))).to.equal('invalid_input');
      const short = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out, MEDIA_MAX_DURATION_S: '1' });
      expect(await errorCode(runTask(audioTranscode, { input: 'audio.wav' }, short))).to.equal('limit_exceeded');
    });
  });

  describe('audio.waveform', () => {
    it('writes a PNG and a peaks JSON with N rising points, and the duration', async () => {
      const { result, progress } = await runTask(
        waveform,
        { input: 'audio.wav', points: 50, width: 200, height: 60 },
        config,
      );
      const [png, json] = result.files as FileOut[];
      expect(png).to.include({ filename: 'waveform.png', content_type: 'image/png' });
      expect(json).to.include({ filename: 'peaks.json', content_type: 'application/json' });
      const meta = await sharp(png?.filepath).metadata();
      expect(meta).to.include({ format: 'png', width: 200, height: 60, hasAlpha: true });

      const peaks = JSON.parse(await readFile(json?.filepath as string, 'utf8')) as { points: number; peaks: number[]; duration_s: number };
      expect(peaks.points).to.equal(50);
      expect(peaks.peaks).to.have.length(50);
      expect(peaks.duration_s).to.be.within(1.9, 2.1);
      // The fixture's amplitude rises linearly from 0 to 0.9.
      expect(peaks.peaks[0]).to.be.lessThan(0.1);
      expect(peaks.peaks.at(-1)).to.be.within(0.8, 0.95);
      expect(peaks.peaks[25]).to.be.within(0.35, 0.55);
      expect(result.duration_s).to.be.within(1.9, 2.1);
      expect(progress.at(-1)?.percent).to.equal(100);
    });

    it('draws louder columns taller (opaque pixels in the last column outnumber the first)', async () => {
      const { result } = await runTask(waveform, { input: 'audio.wav', points: 20, width: 20, height: 50, colour: '#ff0000' }, config);
      const { data, info } = await sharp((result.files as FileOut[])[0]?.filepath)
        .raw()
        .toBuffer({ resolveWithObject: true });
      const opaque = (x: number) => {
        let n = 0;
        for (let y = 0; y < info.height; y++) if ((data[(y * info.width + x) * info.channels + 3] ?? 0) > 0) n++;
        return n;
      };
      expect(opaque(19)).to.be.greaterThan(opaque(1) + 20);
    });

    it('fails invalid_input on a file without audio', async () => {
      expect(await errorCode(runTask(waveform, { input: 'exif6.jpg' }, config))).to.equal('invalid_input');
    });
  });
});
