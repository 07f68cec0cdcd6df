import { expect } from 'chai';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { testConfig, type Config } from '../../src/config.js';
import imageProbe from '../../tasks/image/probe.js';
import resize from '../../tasks/image/resize.js';
import { getFixtures, type Fixtures } from '../helpers/fixtures.js';
import { errorCode, runTask, type FileOut } from '../helpers/task-context.js';



describe('tasks/image', () => {
  let fx: Fixtures;
  let root: string;
  let config: Config;
  let server: http.Server;
  let base: string;

  before(async () => {
    fx = await getFixtures();
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-image-'));
    config = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: path.join(root, 'out') });
    // A 6000×6000 PNG of one colour: a few KB on disk, 36 Mpx once decoded.
    await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#fff' } })
      .png()
      .toFile(path.join(root, 'bomb.png'));
    await copyFile(path.join(root, 'bomb.png'), path.join(fx.dir, 'bomb.png'));
    server = http.createServer((_req, res) => {
      void sharp(fx.alphaPng)
        .toBuffer()
        .then((buf) => res.writeHead(200, { 'content-type': 'image/png' }).end(buf));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  describe('image.resize', () => {
    it('auto-rotates by EXIF orientation 6 and strips metadata by default', async () => {
      const { result, progress } = await runTask(resize, { input: 'exif6.jpg', width: 16 }, config);
      const [file] = result.files as FileOut[];
      expect(file?.filename).to.equal('image.jpg');
      const meta = await sharp(file?.filepath).metadata();
      // 64×32 displayed as 32×64; width 16 → 16×32.
      expect(meta).to.include({ format: 'jpeg', width: 16, height: 32 });
      expect(meta.orientation).to.equal(undefined);
      expect(meta.exif).to.equal(undefined);
      expect(result).to.include({ width: 16, height: 32, format: 'jpeg' });
      expect(progress.at(-1)?.percent).to.equal(100);
    });

    it('keeps metadata and orientation when asked not to rotate', async () => {
      const { result } = await runTask(
        resize,
        { input: 'exif6.jpg', auto_rotate: false, keep_metadata: true, format: 'png' },
        config,
      );
      const meta = await sharp((result.files as FileOut[])[0]?.filepath).metadata();
      expect(meta).to.include({ format: 'png', width: 64, height: 32, orientation: 6 });
    });

    it('converts to webp and avif with cover fit, keeping alpha', async () => {
      for (const format of ['webp', 'avif'] as const) {
        const { result } = await runTask(
          resize,
          { input: `${base}/x.png`, width: 20, height: 20, fit: 'cover', format, quality: 60 },
          config,
        );
        const [file] = result.files as FileOut[];
        expect(file?.content_type).to.equal(`image/${format}`);
        const meta = await sharp(file?.filepath).metadata();
        expect(meta.width).to.equal(20);
        expect(meta.height).to.equal(20);
        expect(meta.format).to.equal(format === 'avif' ? 'heif' : 'webp');
        expect(meta.hasAlpha).to.equal(true);
      }
    });

    it('refuses decompression bombs (limit_exceeded) before decoding', async () => {
      const small = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: path.join(root, 'out'), MEDIA_MAX_PIXELS: '10000000' });
      expect(await errorCode(runTask(resize, { input: 'bomb.png', width: 10 }, small))).to.equal('limit_exceeded');
    });

    it('refuses outputs larger than MEDIA_MAX_OUTPUT_DIMENSION, even when implied by one side', async () => {
      const narrow = testConfig({ MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: path.join(root, 'out'), MEDIA_MAX_OUTPUT_DIMENSION: '100' });
      // 300 is over the limit directly; outside-fit of 50×40 into 10×90 implies 113×90.
      expect(await errorCode(runTask(resize, { input: 'exif6.jpg', height: 300 }, narrow))).to.equal('limit_exceeded');
      expect(await errorCode(runTask(resize, { input: 'alpha.png', height: 90, fit: 'outside', width: 10 }, narrow))).to.equal(
        'limit_exceeded',
      );
    });

    it('fails invalid_input on a corrupt image and input_unreachable on a missing one', async () => {
      expect(await errorCode(runTask(resize, { input: 'corrupt.jpg', width: 10 }, config))).to.equal('invalid_input');
      expect(await errorCode(runTask(resize, { input: 'corrupt.mp4', width: 10 }, config))).to.equal('invalid_input');
      expect(await errorCode(runTask(resize, { input: 'nope.png' }, config))).to.equal('input_unreachable');
    });

    it('rejects unknown fields and formats at validation', () => {
      expect(resize.input.safeParse({ input: 'a.png', widht: 10 }).success).to.equal(false);
      expect(resize.input.safeParse({ input: 'a.png', format: 'bmp' }).success).to.equal(false);
    });
  });

  describe('image.probe', () => {
    it('reports format, dimensions, orientation and display size', async () => {
      const { result } = await runTask(imageProbe, { input: 'exif6.jpg' }, config);
      expect(result).to.include({
        format: 'jpeg',
        width: 64,
        height: 32,
        display_width: 32,
        display_height: 64,
        orientation: 6,
        has_alpha: false,
        space: 'srgb',
        has_exif: true,
      });
    });

    it('reports alpha for a PNG with transparency', async () => {
      const { result } = await runTask(imageProbe, { input: 'alpha.png' }, config);
      expect(result).to.include({ format: 'png', width: 50, height: 40, has_alpha: true, channels: 4, orientation: 1 });
    });

    it('fails invalid_input on a corrupt file', async () => {
      expect(await errorCode(runTask(imageProbe, { input: 'corrupt.jpg' }, config))).to.equal('invalid_input');
    });
  });
});
