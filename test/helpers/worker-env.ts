/**
 * One worker process's surroundings for a test file: a private Redis, a
 * loopback receiver, the services and a producer, fresh for every test
 * (mocha hooks), and the worker the test starts, closed after it.
 */
import { testConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/runtime/services.js';
import { startWorkerProcess, type RunningWorker } from '../../src/runtime/worker-process.js';
import { createProducer, type Producer } from '../../src/queue/producer.js';
import { createRegistry } from '../../src/tasks/registry.js';
import type { AnyTaskDefinition } from '../../src/tasks/define.js';
import type { TaskStore } from '../../src/store/task-store.js';
import { startRedis, type TestRedis } from './redis.js';
import { startReceiver, type Receiver } from './receiver.js';
import { TEST_SECRET } from './signatures.js';

export interface WorkerEnv {
  readonly redis: TestRedis;
  readonly receiver: Receiver;
  readonly services: Services;
  readonly producer: Producer;
  /** Starts a worker for the `debug` queue with these tasks (and, optionally, a store wrapping the real one). */
  start(tasks: AnyTaskDefinition[], store?: TaskStore): Promise<RunningWorker>;
  /** Queues one task of `taskType` with a callback to the receiver; returns its id. */
  submit(taskType: string, data?: Record<string, unknown>): Promise<string>;
}

/** Call inside a `describe`: installs beforeEach/afterEach and returns the current test's surroundings. */
export function workerEnv(env: Record<string, string> = {}, stallIntervalMs = 5000): WorkerEnv {
  let redis: TestRedis;
  let receiver: Receiver;
  let services: Services;
  let producer: Producer;
  let worker: RunningWorker | null = null;

  beforeEach(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    services = await createServices(
      testConfig({ REDIS_URL: redis.url, API_KEYS: 'k', WEBHOOK_SECRET: TEST_SECRET, CALLBACK_ALLOWLIST: '127.0.0.0/8', ...env }),
      silentLogger(),
    );
    producer = createProducer({ redis: services.redis, keys: services.keys, redisUrl: redis.url, stallIntervalMs });
  });
  afterEach(async () => {
    await worker?.close(500);
    worker = null;
    await producer.close();
    await services.close();
    await receiver.close();
    await redis.destroy();
  });

  return {
    get redis() {
      return redis;
    },
    get receiver() {
      return receiver;
    },
    get services() {
      return services;
    },
    get producer() {
      return producer;
    },
    async start(tasks, store) {
      worker = await startWorkerProcess(store ? { ...services, store } : services, {
        queues: ['debug'],
        concurrency: 2,
        registry: createRegistry(tasks),
        deliver: true,
      });
      return worker;
    },
    async submit(taskType, data = {}) {
      const [t] = await producer.submit('tenant', [
        { task_type: taskType, queue: 'debug', task_data: data, callback_url: receiver.url, metadata: {}, project_id: null, options: {} },
      ]);
      if (!t) throw new Error('nothing queued');
      return t.task_id;
    },
  };
}
