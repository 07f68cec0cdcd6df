/**
 * Media tasks through the real path: HTTP submit → image/video/audio workers
 * → callback with `files` → download through the authenticated files route.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { request } from 'undici';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { getFixtures } from '../helpers/fixtures.js';
import { taskCompletedPayloadSchema, taskFailedPayloadSchema } from '../../src/delivery/payload.js';

describe('e2e: media tasks', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;
  let outDir: string;

  before(async () => {
    const fx = await getFixtures();
    outDir = await mkdtemp(path.join(os.tmpdir(), 'taskhook-out-'));
    redis = await startRedis();
    receiver = await startReceiver();
    stack = await startStack({
      redisUrl: redis.url,
      env: { MEDIA_INPUT_DIR: fx.dir, MEDIA_OUTPUT_DIR: outDir, PUBLIC_BASE_URL: 'http://files.example' },
    });
  });
  after(async () => {
    await stack.close();
    await receiver.close();
    await redis.destroy();
    await rm(outDir, { recursive: true, force: true });
  });

  it('image.resize: the callback lists the output file, and the files route serves it', async () => {
    const fx = await getFixtures();
    const res = await stack.post('/api/v1/tasks', {
      task_type: 'image.resize',
      task_data: { input: path.basename(fx.exifJpeg), width: 16, format: 'png' },
      callback_url: receiver.url,
    });
    expect(res.status).to.equal(202);
    const id = String(res.json.task_id);
    const got = await receiver.waitFor(1, 30_000);
    const payload = taskCompletedPayloadSchema.parse(got[0]?.json);
    const files = payload.result.files as { filename: string; size_bytes: number; content_type: string; download_url: string }[];
    expect(files).to.have.length(1);
    const file = files[0];
    if (!file) throw new Error('no file');
    expect(file.content_type).to.equal('image/png');
    expect(file.download_url).to.equal(`http://files.example/api/v1/files/${id}/${file.filename}`);

    const dl = await request(`${stack.url}/api/v1/files/${id}/${file.filename}`, { headers: { 'x-api-key': API_KEY } });
    expect(dl.statusCode).to.equal(200);
    const bytes = Buffer.from(await dl.body.arrayBuffer());
    expect(bytes.length).to.equal(file.size_bytes);
    const meta = await sharp(bytes).metadata();
    // EXIF orientation 6 (64×32 stored) is auto-rotated to 32×64, then resized to width 16.
    expect(meta).to.include({ format: 'png', width: 16, height: 32 });

    const anon = await request(`${stack.url}/api/v1/files/${id}/${file.filename}`);
    expect(anon.statusCode).to.equal(401);
    await anon.body.dump();
  });

  it('video.probe and audio.waveform run on their own queues through the same path', async () => {
    const fx = await getFixtures();
    const before = receiver.received.length;
    const probe = await stack.post('/api/v1/tasks', { task_type: 'video.probe', task_data: { input: path.basename(fx.video) }, callback_url: receiver.url });
    const wave = await stack.post('/api/v1/tasks', {
      task_type: 'audio.waveform',
      task_data: { input: path.basename(fx.audio), points: 50 },
      callback_url: receiver.url,
    });
    await receiver.waitFor(before + 2, 40_000);
    const byId = new Map(receiver.received.slice(before).map((r) => [r.json.task_id, r.json]));
    const p = taskCompletedPayloadSchema.parse(byId.get(probe.json.task_id));
    expect(p.result).to.include({ width: 320, height: 240 });
    expect(Number(p.result.duration_s)).to.be.closeTo(2, 0.3);
    const w = taskCompletedPayloadSchema.parse(byId.get(wave.json.task_id));
    expect((w.result.files as unknown[]).length).to.equal(2);
  });

  it('a corrupt input ends the task failed with error_type invalid_input and the worker keeps going', async () => {
    const fx = await getFixtures();
    const before = receiver.received.length;
    const bad = await stack.post('/api/v1/tasks', { task_type: 'image.probe', task_data: { input: path.basename(fx.corruptImage) }, callback_url: receiver.url });
    await receiver.waitFor(before + 1, 30_000);
    const failed = taskFailedPayloadSchema.parse(receiver.received[before]?.json);
    expect(failed).to.include({ task_id: bad.json.task_id, error_type: 'invalid_input' });
    const good = await stack.post('/api/v1/tasks', { task_type: 'image.probe', task_data: { input: path.basename(fx.alphaPng) }, callback_url: receiver.url });
    await receiver.waitFor(before + 2, 30_000);
    const ok = taskCompletedPayloadSchema.parse(receiver.received[before + 1]?.json);
    expect(ok).to.include({ task_id: good.json.task_id });
    expect(ok.result).to.include({ width: 50, height: 40 });
  });
});
