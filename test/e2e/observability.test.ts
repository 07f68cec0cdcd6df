/** Metrics and trace context through the real path. */
import { expect } from 'chai';
import { request } from 'undici';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { startMetricsServer } from '../../src/runtime/metrics-server.js';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return null;
}

describe('e2e: metrics and traces', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let receiver: Receiver;
  let stack: Stack;

  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    stack = await startStack({ redisUrl: redis.url });
  });
  after(async () => {
    await stack.close();
    await receiver.close();
    await redis.destroy();
  });

  it('GET /metrics counts submits, outcomes and deliveries, reports queue gauges, and needs a key', async () => {
    for (let i = 0; i < 3; i += 1) await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    await stack.post('/api/v1/tasks', { task_type: 'debug.fail', callback_url: receiver.url });
    await receiver.waitFor(4);
    await new Promise((r) => setTimeout(r, 200));

    const anon = await request(`${stack.url}/metrics`);
    expect(anon.statusCode).to.equal(401);
    await anon.body.dump();

    const res = await request(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.match(/text\/plain/);
    const text = await res.body.text();
    expect(sample(text, 'taskhook_tasks_submitted_total', { task_type: 'debug.echo' })).to.equal(3);
    expect(sample(text, 'taskhook_tasks_finished_total', { task_type: 'debug.echo', status: 'completed' })).to.equal(3);
    expect(sample(text, 'taskhook_tasks_finished_total', { task_type: 'debug.fail', status: 'failed' })).to.equal(1);
    expect(sample(text, 'taskhook_callback_deliveries_total', { outcome: 'delivered', status_class: '2xx' })).to.equal(4);
    expect(sample(text, 'taskhook_task_duration_seconds_count', { task_type: 'debug.echo' })).to.equal(3);
    expect(sample(text, 'taskhook_task_queue_wait_seconds_count', { queue: 'debug' })).to.equal(4);
    expect(sample(text, 'taskhook_queue_jobs', { queue: 'debug', state: 'waiting' })).to.equal(0);
    expect(sample(text, 'taskhook_callbacks_pending')).to.equal(0);
    expect(sample(text, 'process_resident_memory_bytes')).to.be.greaterThan(0);
    // No ids or URLs as label values.
    expect(text).to.not.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
    expect(text).to.not.include('127.0.0.1');
  });

  it('keeps per-minute counters of outcomes, run times and deliveries for the dashboard', async () => {
    const { redis: rc, keys } = stack.services;
    const minute = Math.floor(Date.now() / 60_000);
    const rows = await Promise.all([minute - 1, minute].map((m) => rc.hgetall(`${keys.prefix}:stats:${m}`)));
    const sum = (field: string): number => rows.reduce((acc, r) => acc + Number(r[field] ?? 0), 0);
    expect(sum('debug:completed')).to.equal(3);
    expect(sum('debug:failed')).to.equal(1);
    expect(sum('type:debug.echo:n')).to.equal(3);
    expect(sum('cb:delivered')).to.equal(4);
    const buckets = Object.keys(rows[1] ?? {}).filter((k) => k.startsWith('type:debug.echo:le'));
    expect(buckets.length).to.be.at.least(1);
    expect(await rc.pttl(`${keys.prefix}:stats:${minute}`)).to.be.within(1, 7_200_000);
  });

  it('only the process holding the gauge lock reports cluster-wide queue gauges', async () => {
    await stack.services.redis.set(`${stack.services.keys.prefix}:lock:gauges`, 'some-other-process', 'PX', 30_000);
    const res = await request(`${stack.url}/metrics`, { headers: { 'x-api-key': API_KEY } });
    const text = await res.body.text();
    expect(sample(text, 'taskhook_queue_jobs', { queue: 'debug', state: 'waiting' })).to.equal(null);
    expect(sample(text, 'taskhook_tasks_submitted_total', { task_type: 'debug.echo' })).to.be.a('number');
    await stack.services.redis.del(`${stack.services.keys.prefix}:lock:gauges`);
  });

  it('a worker serves its own /metrics on METRICS_PORT', async () => {
    const server = await startMetricsServer(stack.services.metrics, 0, '127.0.0.1');
    try {
      const port = (server.address() as { port: number }).port;
      const res = await request(`http://127.0.0.1:${port}/metrics`);
      expect(res.statusCode).to.equal(200);
      expect(await res.body.text()).to.include('taskhook_tasks_finished_total');
    } finally {
      server.close();
    }
  });

  it('keeps the incoming traceparent: stored with the task and sent (as a child span) on its callback', async () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const before = receiver.received.length;
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url }, { traceparent: parent });
    expect(res.headers.traceparent).to.equal(parent);
    const got = await receiver.waitFor(before + 1);
    const tp = String(got[before]?.headers.traceparent);
    expect(tp).to.match(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(tp).to.not.equal(parent);
  });

  it('creates a traceparent when none comes, and the callback carries the same trace id', async () => {
    const before = receiver.received.length;
    const res = await stack.post('/api/v1/tasks', { task_type: 'debug.echo', callback_url: receiver.url });
    const created = String(res.headers.traceparent);
    expect(created).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const got = await receiver.waitFor(before + 1);
    expect(String(got[before]?.headers.traceparent).slice(3, 35)).to.equal(created.slice(3, 35));
  });
});
