import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { testConfig, type Config } from '../../src/config.js';
import { TaskTimeoutError } from '../../src/errors.js';
import { probeMedia } from '../../src/media/probe.js';
import videoProbe from '../../tasks/video/probe.js';
import thumbnail from '../../tasks/video/thumbnail.js';
import transcode from '../../tasks/video/transcode.js';
import { getFixtures, type Fixtures } from '../helpers/fixtures.js';
import { errorCode, runTask, type TestTaskContext, type FileOut } from '../helpers/task-context.js';



/** Whether any live process has `marker` in its command line. */
function processWith(marker: string): boolean {
  try {
    return execFileSync('pgrep', ['-f', marker]).toString().trim().length > 0;
  } catch {
    return false;
  }
}

describe('tasks/video', () => {
  let fx: Fixtures;
  let out: string;
  let config: Config;
  const signal = new AbortController().signal;

  before(async () => {
    fx = await getFixtures();
    out = await mkdtemp(path.join(os.tmpdir(), 'taskhook-video-out-'));
    config = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out, PUBLIC_BASE_URL: 'http://files.test' });
  });
  after(() => rm(out, { recursive: true, force: true }));

  describe('video.probe', () => {
    it('normalises the facts of a real clip', async () => {
      const { result } = await runTask(videoProbe, { input: 'video.mp4' }, config);
      expect(result).to.include({ width: 320, height: 240, frame_rate: 25, video_codec: 'h264', audio_codec: 'aac' });
      expect(result.duration_s).to.be.within(1.9, 2.2);
      expect(result.size_bytes).to.be.greaterThan(1000);
      expect(result.bit_rate).to.be.a('number');
    });

    it('fails invalid_input on a corrupt file and on audio without video', async () => {
      expect(await errorCode(runTask(videoProbe, { input: 'corrupt.mp4' }, config))).to.equal('invalid_input');
      expect(await errorCode(runTask(videoProbe, { input: 'audio.wav' }, config))).to.equal('invalid_input');
    });

    it('fails input_unreachable on a missing file', async () => {
      expect(await errorCode(runTask(videoProbe, { input: 'missing.mp4' }, config))).to.equal('input_unreachable');
    });
  });

  describe('video.thumbnail', () => {
    it('extracts a resized WebP frame and describes the file', async () => {
      const { result, progress, taskId } = await runTask(
        thumbnail,
        { input: 'video.mp4', at_s: 1, width: 160, height: 90, format: 'webp' },
        config,
      );
      const [file] = result.files as FileOut[];
      expect(file?.filename).to.equal('thumbnail.webp');
      expect(file?.content_type).to.equal('image/webp');
      expect(file?.download_url).to.equal(`http://files.test/api/v1/files/${taskId}/thumbnail.webp`);
      const meta = await sharp(file?.filepath).metadata();
      expect(meta).to.include({ format: 'webp', width: 160, height: 90 });
      expect(result).to.include({ width: 160, height: 90, at_s: 1 });
      expect(progress.at(-1)?.percent).to.equal(100);
    });

    it('takes at_percent, clamps near the end, and keeps the source size without width/height', async () => {
      const { result } = await runTask(thumbnail, { input: 'video.mp4', at_percent: 100 }, config);
      const [file] = result.files as FileOut[];
      const meta = await sharp(file?.filepath).metadata();
      expect(meta).to.include({ format: 'jpeg', width: 320, height: 240 });
      expect(result.at_s as number).to.be.within(1.8, 2);
    });

    it('refuses a position past the end (invalid_input) and too many pixels (limit_exceeded)', async () => {
      expect(await errorCode(runTask(thumbnail, { input: 'video.mp4', at_s: 30 }, config))).to.equal('invalid_input');
      const small = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out, MEDIA_MAX_PIXELS: '10000' });
      expect(await errorCode(runTask(thumbnail, { input: 'video.mp4' }, small))).to.equal('limit_exceeded');
      const narrow = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out, MEDIA_MAX_OUTPUT_DIMENSION: '100' });
      expect(await errorCode(runTask(thumbnail, { input: 'video.mp4', width: 200 }, narrow))).to.equal('limit_exceeded');
    });

    it('publishes nothing when aborted after the frame was extracted (sharp cannot be interrupted)', async () => {
      let taskId = '';
      const err = await runTask(thumbnail, { input: 'video.mp4', at_s: 1 }, config, (c) => {
        taskId = c.ctx.taskId;
        const report = c.ctx.reportProgress.bind(c.ctx);
        c.ctx.reportProgress = (percent, info) => {
          report(percent, info);
          // 70 is reported once ffmpeg has exited and before sharp runs: nothing is left to kill.
          if (percent === 70) c.abort(new TaskTimeoutError(1000));
        };
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TaskTimeoutError);
      expect(await readdir(path.join(out, taskId)).catch(() => [])).to.deep.equal([]);
    });

    it('rejects both at_s and at_percent at validation', () => {
      expect(thumbnail.input.safeParse({ input: 'v.mp4', at_s: 1, at_percent: 5 }).success).to.equal(false);
    });
  });

  describe('video.transcode', () => {
    it('makes an H.264/AAC MP4 at the target height, with progress up to 100', async () => {
      const { result, progress, tempDir } = await runTask(transcode, { input: 'video.mp4', height: 120 }, config);
      const [file] = result.files as FileOut[];
      expect(file?.filename).to.equal('video.mp4');
      const info = await probeMedia(config, file?.filepath as string, signal);
      expect(info.video).to.include({ codec: 'h264', width: 160, height: 120 });
      expect(info.audio?.codec).to.equal('aac');
      expect(info.duration_s).to.be.within(1.8, 2.3);
      expect(result).to.include({ width: 160, height: 120, video_codec: 'h264' });
      expect(progress.at(-1)?.percent).to.equal(100);
      const percents = progress.map((p) => p.percent);
      expect(percents).to.deep.equal([...percents].sort((a, b) => a - b));
      // The worker removes the temp dir; the helper did the same.
      await access(tempDir as string).then(
        () => expect.fail('temp dir left behind'),
        () => undefined,
      );
    });

    it('makes a trimmed VP9/Opus WebM', async () => {
      const { result } = await runTask(
        transcode,
        { input: 'video.mp4', format: 'webm', height: 96, start_s: 0.5, duration_s: 1 },
        config,
      );
      const [file] = result.files as FileOut[];
      expect(file?.content_type).to.equal('video/webm');
      const info = await probeMedia(config, file?.filepath as string, signal);
      expect(info.format).to.include('webm');
      expect(info.video).to.include({ codec: 'vp9', height: 96, width: 128 });
      expect(info.audio?.codec).to.equal('opus');
      expect(info.duration_s).to.be.within(0.9, 1.2);
    });

    it('refuses inputs longer than MEDIA_MAX_DURATION_S and corrupt inputs', async () => {
      const short = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: out, MEDIA_MAX_DURATION_S: '1' });
      expect(await errorCode(runTask(transcode, { input: 'video.mp4' }, short))).to.equal('limit_exceeded');
      expect(await errorCode(runTask(transcode, { input: 'corrupt.mp4' }, config))).to.equal('invalid_input');
      expect(await errorCode(runTask(transcode, { input: '../etc/passwd' }, config))).to.equal('invalid_input');
    });

    it('on timeout kills ffmpeg, leaves no temp files and no output', async () => {
      let c: TestTaskContext | undefined;
      let runningAtAbort = false;
      const started = Date.now();
      const run = runTask(transcode, { input: 'long.mp4', format: 'webm' }, config, (ctx) => {
        c = ctx;
        // Abort once ffmpeg has made real progress, as the worker's timeout would.
        const report = ctx.ctx.reportProgress.bind(ctx.ctx);
        ctx.ctx.reportProgress = (percent, info) => {
          report(percent, info);
          if (info?.stage === 'transcode' && percent > 0 && !ctx.ctx.signal.aborted) {
            runningAtAbort = processWith(ctx.tempDirPath() as string);
            ctx.abort(new TaskTimeoutError(1000));
          }
        };
      });
      const err = await run.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TaskTimeoutError);
      const tmp = c?.tempDirPath() as string;
      expect(tmp).to.be.a('string');
      expect(runningAtAbort, 'ffmpeg was running when the abort fired').to.equal(true);
      // The temp dir path is in ffmpeg's arguments: no process may still carry it.
      expect(processWith(tmp)).to.equal(false);
      await access(tmp).then(
        () => expect.fail('temp dir left behind'),
        () => undefined,
      );
      const taskDir = path.join(out, c?.ctx.taskId as string);
      const leftovers = await readdir(taskDir).catch(() => []);
      expect(leftovers).to.deep.equal([]);
      expect(Date.now() - started).to.be.lessThan(15_000);
    });
  });
});
