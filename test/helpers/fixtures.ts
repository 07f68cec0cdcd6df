/**
 * Media fixtures generated at test time (nothing binary lives in git): tiny
 * ffmpeg lavfi clips and sharp-made images, created once per mocha process in
 * a temp dir that is removed when the process exits.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

const run = promisify(execFile);

export interface Fixtures {
  /** Directory holding every fixture (usable as MEDIA_INPUT_DIR). */
  dir: string;
  /** 320×240, 25 fps, 2 s, H.264 + AAC (440 Hz tone). */
  video: string;
  /** 160×120, 10 fps, 40 s, H.264 + AAC: long enough to abort a transcode mid-way. */
  longVideo: string;
  /** 2 s mono 44.1 kHz WAV whose amplitude rises linearly from 0 to 0.9. */
  audio: string;
  /** 64×32 JPEG with EXIF orientation 6 (displays as 32×64). */
  exifJpeg: string;
  /** 50×40 PNG with an alpha channel. */
  alphaPng: string;
  /** Bytes that are no media format at all, named .mp4. */
  corruptVideo: string;
  /** Bytes that are no image at all, named .jpg. */
  corruptImage: string;
}

let cached: Promise<Fixtures> | null = null;

/** The fixtures, generated on first call (a few hundred ms). */
export function getFixtures(): Promise<Fixtures> {
  cached ??= generate();
  return cached;
}

async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
}

async function generate(): Promise<Fixtures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'taskhook-fixtures-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const f = (name: string): string => path.join(dir, name);
  const fx: Fixtures = {
    dir,
    video: f('video.mp4'),
    longVideo: f('long.mp4'),
    audio: f('audio.wav'),
    exifJpeg: f('exif6.jpg'),
    alphaPng: f('alpha.png'),
    corruptVideo: f('corrupt.mp4'),
    corruptImage: f('corrupt.jpg'),
  };
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-shortest'];
  await Promise.all([
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', ...x264, fx.video]),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10:duration=40', '-f', 'lavfi', '-i', 'sine=frequency=220:duration=40', ...x264, fx.longVideo]),
    ffmpeg(['-f', 'lavfi', '-i', 'aevalsrc=0.45*t*sin(2*PI*440*t):s=44100:d=2', '-c:a', 'pcm_s16le', fx.audio]),
    sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 200, g: 30, b: 30 } } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(fx.exifJpeg),
    sharp({ create: { width: 50, height: 40, channels: 4, background: { r: 0, g: 128, b: 255, alpha: 0.5 } } })
      .png()
      .toFile(fx.alphaPng),
    writeFile(fx.corruptVideo, Buffer.from('this is not a video '.repeat(200))),
    writeFile(fx.corruptImage, Buffer.from('\xff\xd8 not really a jpeg '.repeat(50), 'latin1')),
  ]);
  return fx;
}
