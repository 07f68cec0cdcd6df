/**
 * Builds what API and worker processes share from a parsed config: one Redis
 * connection for taskhook's own commands, the key layout, the task store,
 * the outbox, the guarded egress agent, and (for processes that deliver)
 * the callback dispatcher.
 */
import type { Redis } from 'ioredis';
import type { Agent } from 'undici';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createKeys, type Keys } from '../store/keys.js';
import { createTaskStore, type TaskStore } from '../store/task-store.js';
import { createOutbox, type Outbox } from '../delivery/outbox.js';
import { createDeliveryDispatcher, type DeliveryDispatcher } from '../delivery/dispatcher.js';
import { policyFromConfig } from '../delivery/policy.js';
import { createSigner } from '../delivery/sign.js';
import { createEgressAgent, egressPolicyFromConfig, checkUrl, type EgressPolicy } from '../egress/index.js';
import { checkRedisSafety, connectRedis } from './redis.js';

export interface Services {
  config: Config;
  logger: Logger;
  redis: Redis;
  keys: Keys;
  store: TaskStore;
  outbox: Outbox;
  egressPolicy: EgressPolicy;
  egress: Agent;
  /** Checks a callback URL against the egress policy at submit time. */
  checkCallbackUrl(url: string): Promise<void>;
  createDispatcher(): DeliveryDispatcher;
  close(): Promise<void>;
}

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const redis = await connectRedis(config.REDIS_URL);
  redis.on('error', (err: Error) => logger.warn('redis connection error', { err: err.message }));
  await checkRedisSafety(redis, config, logger);
  const keys = createKeys(config.REDIS_PREFIX);
  const egressPolicy = egressPolicyFromConfig(config);
  const egress = createEgressAgent(egressPolicy, { connections: 256 });
  const outbox = createOutbox(redis, keys);
  const signer = createSigner(config.WEBHOOK_SECRET);
  return {
    config,
    logger,
    redis,
    keys,
    store: createTaskStore(redis, keys),
    outbox,
    egressPolicy,
    egress,
    async checkCallbackUrl(url) {
      await checkUrl(url, egressPolicy);
    },
    createDispatcher: () =>
      createDeliveryDispatcher({
        outbox,
        agent: egress,
        signerFor: (ref) => (ref === 'default' ? signer : undefined),
        policy: policyFromConfig(config),
        logger,
        timeoutMs: config.CALLBACK_TIMEOUT_MS,
        maxResponseBytes: config.CALLBACK_MAX_RESPONSE_BYTES,
        concurrency: config.CALLBACK_CONCURRENCY,
        hostConcurrency: config.CALLBACK_HOST_CONCURRENCY,
      }),
    async close() {
      await egress.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
