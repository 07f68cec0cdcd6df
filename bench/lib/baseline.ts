/** Phase 1: raw bee-queue throughput on no-op jobs (separate worker process). */
import BeeQueue from 'bee-queue';
import { fileURLToPath } from 'node:url';
import { createIpcClient } from './ipc.js';
import { logPath, type ProcessGroup } from './procs.js';

export interface BaselineResult {
  jobs: number;
  jobsPerSec: number;
  fillSec: number;
}

export async function runBeeQueueBaseline(
  group: ProcessGroup,
  redisUrl: string,
  logDir: string,
  total: number,
  concurrency: number,
): Promise<BaselineResult> {
  const prefix = 'bqbase';
  const name = 'noop';
  const producer = new BeeQueue(name, {
    prefix,
    redis: { url: redisUrl } as BeeQueue.QueueSettings['redis'],
    isWorker: false,
    getEvents: false,
    sendEvents: false,
    storeJobs: false,
  });
  producer.on('error', () => undefined);
  const fillStart = Date.now();
  try {
    await producer.ready();
    // Queued up front: the figure is the consumer's rate, not the producer's.
    for (let i = 0; i < total; i += 1000) {
      const jobs = Array.from({ length: Math.min(1000, total - i) }, () => producer.createJob({}));
      const errors = await producer.saveAll(jobs);
      if (errors.size > 0) throw new Error(`bee-queue saveAll failed for ${errors.size} jobs`);
    }
  } finally {
    await producer.close(2000).catch(() => undefined);
  }
  const fillSec = (Date.now() - fillStart) / 1000;
  const script = fileURLToPath(new URL('./bq-worker-main.ts', import.meta.url));
  const child = group.node(script, {
    args: [JSON.stringify({ redisUrl, prefix, queue: name, concurrency, total })],
    logFile: logPath(logDir, 'bq-worker'),
    ipc: true,
  });
  const ipc = createIpcClient(child, 'bee-queue worker');
  try {
    const done = await ipc.event<{ count: number; t0: number; t1: number }>('done', 300_000);
    return { jobs: done.count, jobsPerSec: done.count / ((done.t1 - done.t0) / 1000), fillSec };
  } finally {
    await group.stop(child, 'SIGKILL');
  }
}
