/**
 * The input format guard (src/media/formats.ts) through the real path: real
 * ffprobe/ffmpeg runs on crafted playlists that point outside MEDIA_INPUT_DIR,
 * and on the ordinary formats the tasks must keep accepting.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { access, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testConfig, type Config } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import { runFfmpeg, runFfprobe } from '../../src/media/ffmpeg.js';
import { probeMedia } from '../../src/media/probe.js';
import type { AnyTaskDefinition } from '../../src/tasks/define.js';
import audioTranscode from '../../tasks/audio/transcode.js';
import waveform from '../../tasks/audio/waveform.js';
import imageProbe from '../../tasks/image/probe.js';
import videoProbe from '../../tasks/video/probe.js';
import thumbnail from '../../tasks/video/thumbnail.js';
import videoTranscode from '../../tasks/video/transcode.js';
import { getFixtures, type Fixtures } from '../helpers/fixtures.js';
import { makeTaskContext, runTask } from '../helpers/task-context.js';

const run = promisify(execFile);

function hls(entry: string): string {
  return `#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.0,\n${entry}\n#EXT-X-ENDLIST\n`;
}

type AnyTask = AnyTaskDefinition;

describe('media input formats (real ffmpeg)', () => {
  let fx: Fixtures;
  let root: string;
  let inputDir: string;
  let outDir: string;
  let secret: string;
  let config: Config;
  let server: http.Server;
  let base: string;

  before(async () => {
    fx = await getFixtures();
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-formats-'));
    inputDir = path.join(root, 'in');
    outDir = path.join(root, 'out');
    await mkdir(inputDir);
    await mkdir(outDir);
    await mkdir(path.join(root, 'secret'));
    // Another tenant's video, outside the input directory (moov first: HLS reads segments as streams).
    secret = path.join(root, 'secret', 'other-tenant.mp4');
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', fx.video, '-c', 'copy', '-movflags', '+faststart', secret]);
    // Innocent names: the extension does not decide the demuxer, the bytes do.
    await writeFile(path.join(inputDir, 'absolute.mp4'), hls(`file://${secret}`));
    await writeFile(path.join(inputDir, 'relative.mp4'), hls('../secret/other-tenant.mp4'));
    await writeFile(path.join(inputDir, 'list.mp4'), `ffconcat version 1.0\nfile ${secret}\n`);
    config = testConfig({ MEDIA_INPUT_DIR: inputDir, MEDIA_OUTPUT_DIR: outDir, MEDIA_TMP_DIR: root });

    server = http.createServer((req, res) => {
      if (req.url === '/playlist.mp4') res.end(hls(`file://${secret}`));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  /** Runs a task to its failure and returns the error and whether it left an output directory. */
  async function failure(def: AnyTask, data: unknown): Promise<{ err: TaskhookError; wroteOutput: boolean }> {
    const c = makeTaskContext(config);
    try {
      const err = await Promise.resolve()
        .then(() => def.handler(def.input.parse(data), c.ctx))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, 'the task should have failed').to.be.instanceOf(TaskhookError);
      const wroteOutput = await access(path.join(outDir, c.ctx.taskId)).then(
        () => true,
        () => false,
      );
      return { err: err as TaskhookError, wroteOutput };
    } finally {
      await c.cleanup();
    }
  }

  it('the crafted playlist really does reach outside when the guard is skipped (the test is not vacuous)', async () => {
    for (const input of ['absolute.mp4', 'relative.mp4']) {
      const leaked = path.join(root, `leaked-${input}`);
      await runFfmpeg(config, ['-i', path.join(inputDir, input), '-c', 'copy', '-f', 'mp4', leaked], {
        signal: new AbortController().signal,
        anyInputFormat: true,
      });
      const info = await probeMedia(config, leaked, new AbortController().signal);
      expect(info.video?.width, input).to.equal(320);
    }
  });

  const tasks: [string, AnyTask, Record<string, unknown>][] = [
    ['video.probe', videoProbe, {}],
    ['video.thumbnail', thumbnail, {}],
    ['video.transcode', videoTranscode, { format: 'mp4' }],
    ['audio.transcode', audioTranscode, { format: 'mp3' }],
    ['audio.waveform', waveform, {}],
  ];
  for (const [name, def, extra] of tasks) {
    it(`${name} refuses an HLS playlist pointing outside MEDIA_INPUT_DIR: invalid_input, no output`, async () => {
      for (const input of ['absolute.mp4', 'relative.mp4']) {
        const { err, wroteOutput } = await failure(def, { input, ...extra });
        expect(err.code, input).to.equal('invalid_input');
        expect(err.message).to.match(/"hls" format/);
        expect(err.message).to.match(/read other files or URLs/);
        expect(wroteOutput, `${input}: output directory written`).to.equal(false);
      }
    });
  }

  it('refuses an ffconcat list and a playlist downloaded from a URL', async () => {
    const list = await failure(videoTranscode, { input: 'list.mp4' });
    expect(list.err.code).to.equal('invalid_input');
    expect(list.err.message).to.match(/"concat" format/);
    expect(list.wroteOutput).to.equal(false);
    const url = await failure(videoTranscode, { input: `${base}/playlist.mp4` });
    expect(url.err.code).to.equal('invalid_input');
    expect(url.err.message).to.match(/"hls" format/);
    expect(url.wroteOutput).to.equal(false);
  });

  it('ffmpeg and ffprobe refuse the playlist themselves, without the probe in front', async () => {
    const target = path.join(root, 'direct.mp4');
    const signal = new AbortController().signal;
    const ffmpegErr = await runFfmpeg(config, ['-i', path.join(inputDir, 'absolute.mp4'), '-c', 'copy', '-f', 'mp4', target], {
      signal,
    }).catch((e: unknown) => e);
    expect(ffmpegErr).to.be.instanceOf(TaskhookError);
    expect((ffmpegErr as TaskhookError).code).to.equal('invalid_input');
    expect((ffmpegErr as TaskhookError).extra).to.include({ format: 'hls' });
    expect(await access(target).then(() => true, () => false), 'ffmpeg wrote the secret out').to.equal(false);
    const probeErr = await runFfprobe(config, ['-show_format', '--', path.join(inputDir, 'list.mp4')], signal).catch(
      (e: unknown) => e,
    );
    expect((probeErr as TaskhookError).code).to.equal('invalid_input');
    expect((probeErr as TaskhookError).extra).to.include({ format: 'concat' });
  });

  describe('ordinary inputs still work', () => {
    let media: string;
    const containers = ['mp4', 'mov', 'webm', 'mkv', 'avi', 'ts', 'mpg', 'flv', 'wmv'];
    const audioOnly = ['mp3', 'wav', 'm4a', 'ogg', 'opus', 'flac', 'aac', 'aiff'];

    before(async () => {
      media = path.join(inputDir, 'ok');
      await mkdir(media);
      const ff = (args: string[]): Promise<unknown> => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
      const src = ['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=duration=1'];
      await Promise.all([
        ...containers.map((ext) => ff([...src, '-shortest', '-pix_fmt', 'yuv420p', path.join(media, `clip.${ext}`)])),
        ...audioOnly.map((ext) => ff(['-f', 'lavfi', '-i', 'sine=duration=1', path.join(media, `tone.${ext}`)])),
      ]);
    });

    it('probes every accepted container and audio format', async () => {
      const signal = new AbortController().signal;
      for (const ext of containers) {
        const info = await probeMedia(config, path.join(media, `clip.${ext}`), signal);
        expect(info.video?.width, ext).to.equal(64);
      }
      for (const ext of audioOnly) {
        const info = await probeMedia(config, path.join(media, `tone.${ext}`), signal);
        expect(info.audio, ext).to.not.equal(null);
      }
    });

    it('runs the tasks on mp4, webm, mp3, wav and jpeg inputs', async () => {
      const thumb = await runTask(thumbnail, { input: 'ok/clip.webm', at_s: 0.5 }, config);
      expect(thumb.result).to.include({ width: 64, height: 48 });
      const video = await runTask(videoTranscode, { input: 'ok/clip.mp4', format: 'webm' }, config);
      expect(video.result).to.include({ video_codec: 'vp9' });
      const mp3 = await runTask(audioTranscode, { input: 'ok/tone.mp3', format: 'wav' }, config);
      expect(mp3.result).to.include({ codec: 'pcm_s16le' });
      const wav = await runTask(waveform, { input: 'ok/tone.wav', points: 10, width: 20, height: 10 }, config);
      expect(wav.result).to.include({ points: 10 });
      await copyFile(fx.exifJpeg, path.join(media, 'photo.jpg'));
      const jpeg = await runTask(imageProbe, { input: 'ok/photo.jpg' }, config);
      expect(jpeg.result).to.include({ format: 'jpeg' });
      for (const r of [thumb, video, mp3, wav]) {
        expect(await readdir(path.join(outDir, r.taskId))).to.have.length.greaterThan(0);
      }
    });
  });
});
