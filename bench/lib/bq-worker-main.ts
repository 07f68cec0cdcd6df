/**
 * The baseline: a raw bee-queue worker (no taskhook) processing no-op jobs,
 * with the same queue settings taskhook uses (src/queue/queues.ts), so the
 * ratio measures taskhook's own cost and not a settings difference.
 */
import BeeQueue from 'bee-queue';
import { nowMs } from './clock.js';

interface Args {
  redisUrl: string;
  prefix: string;
  queue: string;
  concurrency: number;
  total: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const queue = new BeeQueue(args.queue, {
  prefix: args.prefix,
  redis: { url: args.redisUrl } as BeeQueue.QueueSettings['redis'],
  isWorker: true,
  getEvents: false,
  sendEvents: false,
  storeJobs: false,
  removeOnSuccess: true,
  removeOnFailure: true,
});
let first = 0;
let done = 0;
queue.on('succeeded', () => {
  done += 1;
  if (done === args.total) {
    process.send?.({ event: 'done', count: done, t0: first, t1: nowMs() });
  }
});
queue.process(args.concurrency, async () => {
  if (first === 0) first = nowMs();
  return {};
});
process.on('disconnect', () => process.exit(0));
void queue.ready().then(() => process.send?.({ event: 'ready' }));
