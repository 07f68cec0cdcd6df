/**
 * Phase 7: `image.resize` through taskhook vs. the same sharp pipeline alone
 * in one process, on one fixed generated image. The ratio is the runner's
 * overhead on real work.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { nowMs } from './clock.js';
import type { LoadGenerator } from './loadgen.js';
import { collect, startStack, target, type StackOptions } from './phases.js';
import type { ReceiverHandle } from './receiver.js';

export interface ImageResult {
  skipped?: string;
  tasks?: number;
  concurrency?: number;
  input?: string;
  taskhookPerSec?: number;
  sharpPerSec?: number;
  /** taskhook / sharp alone. */
  ratio?: number;
  failed?: number;
}

const WIDTH = 1920;
const HEIGHT = 1080;
const OUT_WIDTH = 640;

/** A deterministic-size noisy JPEG (noise defeats trivially compressible input). */
export async function makeImage(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const buf = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg({ quality: 85 })
    .toBuffer();
  const file = join(dir, 'bench.jpg');
  writeFileSync(file, buf);
  return file;
}

/** The same steps as tasks/image/resize.ts: header read, rotate, resize, mozjpeg, write. */
async function sharpAlone(file: string, outDir: string, n: number, concurrency: number): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await sharp(file, { limitInputPixels: 100_000_000 }).metadata();
        const out = await sharp(file, { limitInputPixels: 100_000_000 })
          .rotate()
          .resize({ width: OUT_WIDTH, fit: 'inside' })
          .jpeg({ quality: 80, mozjpeg: true })
          .toBuffer();
        await writeFile(join(outDir, `${i}.jpg`), out);
      }
    }),
  );
  return n / ((nowMs() - t0) / 1000);
}

export async function imagePhase(
  stackOpts: Omit<StackOptions, 'queues' | 'concurrency' | 'workers'>,
  load: LoadGenerator,
  receiver: ReceiverHandle,
  workDir: string,
  n: number,
  concurrency: number,
): Promise<ImageResult> {
  const { registry } = await import('../../tasks/index.js');
  if (!registry.get('image.resize')) return { skipped: 'image.resize is not in tasks/index.ts' };
  const inputDir = join(workDir, 'media-in');
  const file = await makeImage(inputDir);
  const sharpPerSec = await sharpAlone(file, join(workDir, 'sharp-out'), n, concurrency);
  const stack = await startStack({
    ...stackOpts,
    workers: 1,
    concurrency,
    queues: 'image',
    env: { ...stackOpts.env, MEDIA_INPUT_DIR: inputDir, MEDIA_OUTPUT_DIR: join(workDir, 'media-out') },
  });
  try {
    const t = target(stack, receiver, undefined, 'image.resize', { input: 'bench.jpg', width: OUT_WIDTH, format: 'jpeg', quality: 80 });
    // One warm-up task (sharp's first call loads libvips).
    await receiver.reset();
    await load.batch(t, 1, 1, 1);
    await collect(receiver, 1, 60_000);
    await receiver.reset();
    const r = await load.batch(t, n, 50, 1);
    const recs = await collect(receiver, r.accepted, 300_000);
    const last = Math.max(...recs.map((x) => x[0]));
    const taskhookPerSec = recs.length / ((last - r.t0) / 1000);
    return {
      tasks: n,
      concurrency,
      input: `${WIDTH}×${HEIGHT} JPEG → ${OUT_WIDTH} px wide mozjpeg q80`,
      taskhookPerSec,
      sharpPerSec,
      ratio: taskhookPerSec / sharpPerSec,
      failed: recs.filter((x) => x[4] === 0).length,
    };
  } finally {
    await stack.stop();
  }
}
