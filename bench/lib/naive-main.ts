/**
 * The naive reference the target is phrased against: the same parts
 * as taskhook (Koa + @koa/router, bee-queue, undici) wired the obvious way,
 * with none of the product's guarantees. The API parses the JSON body and
 * saves one bee-queue job holding the task; a worker process runs the no-op
 * and POSTs an unsigned callback with `request()`. No validation, no task
 * record, no outbox or retries, no signatures, no SSRF guard, no logs or
 * metrics: a task lost in a crash is simply gone.
 *
 * Run as `naive-main.ts api <json>` or `naive-main.ts worker <json>`.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import BeeQueue from 'bee-queue';
import Router from '@koa/router';
import Koa from 'koa';
import { request } from 'undici';

interface Args {
  redisUrl: string;
  prefix: string;
  queue: string;
  concurrency: number;
}

interface NaiveJob {
  task_id: string;
  task_type: string;
  task_data: unknown;
  callback_url: string;
  metadata: unknown;
}

const role = process.argv[2];
const args = JSON.parse(process.argv[3] ?? '{}') as Args;

function queue(isWorker: boolean): BeeQueue<NaiveJob> {
  // The settings taskhook's queues use (src/queue/queues.ts), as in the baseline.
  const q = new BeeQueue<NaiveJob>(args.queue, {
    prefix: args.prefix,
    redis: { url: args.redisUrl } as BeeQueue.QueueSettings['redis'],
    isWorker,
    getEvents: false,
    sendEvents: false,
    storeJobs: false,
    removeOnSuccess: true,
    removeOnFailure: true,
  });
  q.on('error', () => undefined);
  return q;
}

async function readBody(req: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function api(): Promise<void> {
  const q = queue(false);
  await q.ready();
  const app = new Koa();
  const router = new Router({ prefix: '/api/v1' });
  router.post('/tasks', async (ctx) => {
    const body = (await readBody(ctx.req)) as Omit<NaiveJob, 'task_id'>;
    const task = { ...body, task_id: randomUUID() };
    await q.createJob(task).save();
    ctx.status = 202;
    ctx.body = { task_id: task.task_id, status: 'queued' };
  });
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ event: 'ready', port: (server.address() as AddressInfo).port });
  });
}

async function worker(): Promise<void> {
  const q = queue(true);
  q.process(args.concurrency, async (job) => {
    const t = job.data;
    const res = await request(t.callback_url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        event: 'task.completed',
        task_id: t.task_id,
        task_type: t.task_type,
        status: 'completed',
        result: t.task_data,
        completed_at: new Date().toISOString(),
        metadata: t.metadata,
      }),
    });
    await res.body.dump();
    return {};
  });
  await q.ready();
  process.send?.({ event: 'ready' });
}

process.on('disconnect', () => process.exit(0));
if (role === 'api') void api();
else if (role === 'worker') void worker();
else throw new Error(`naive-main: unknown role ${String(role)}`);
