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
import { policyFromConfig, subscriptionPolicyFromConfig } from '../delivery/policy.js';
import { createEndpointDirectory } from '../delivery/endpoints.js';
import { createSubscriptionMatcher, type SubscriptionMatcher } from '../delivery/subscriptions.js';
import { createSigner } from '../delivery/sign.js';
import { cachedCheck, createEgressAgent, egressPolicyFromConfig, checkUrl, type EgressPolicy } from '../egress/index.js';
import { checkRedisSafety, closeRedis, connectRedis } from './redis.js';
import { hostname } from 'node:os';
import { createMetrics, statusClass, type Metrics } from '../metrics/metrics.js';
import { queueGaugeCollector } from '../metrics/queue-gauges.js';

export interface Services {
  config: Config;
  logger: Logger;
  redis: Redis;
  keys: Keys;
  store: TaskStore;
  outbox: Outbox;
  subscriptions: SubscriptionMatcher;
  metrics: Metrics;
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
  const outbox = createOutbox(redis, keys, {
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER_H * 3_600_000,
    progressIntervalMs: config.PROGRESS_EVENT_INTERVAL_MS,
  });
  const signer = createSigner(config.WEBHOOK_SECRET, { previous: config.WEBHOOK_SECRET_PREVIOUS });
  const endpoints = createEndpointDirectory(redis, keys);
  const metrics = createMetrics({ collectQueues: queueGaugeCollector(redis, keys, `${hostname()}:${process.pid}`) });
  return {
    config,
    logger,
    redis,
    keys,
    store: createTaskStore(redis, keys),
    outbox,
    subscriptions: createSubscriptionMatcher(redis, keys),
    metrics,
    egressPolicy,
    egress,
    checkCallbackUrl: cachedCheck((url) => checkUrl(url, egressPolicy), { ttlMs: config.CALLBACK_CHECK_CACHE_MS, max: 1000 }),
    createDispatcher: () =>
      createDeliveryDispatcher({
        outbox,
        agent: egress,
        async route(d) {
          if (!d.sub) return { signer, headers: {} };
          const ep = await endpoints.get(d.sub);
          if (!ep) return { error: 'the subscription was deleted' };
          if (!ep.active) return { error: 'the subscription is disabled' };
          return { signer: ep.signer, headers: ep.headers };
        },
        policy: policyFromConfig(config),
        subscriptionPolicy: subscriptionPolicyFromConfig(config),
        endpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
        onAttempt: (_d, a) => {
          metrics.deliveries.inc({ outcome: a.outcome, status_class: statusClass(a.status_code) });
          metrics.deliveryDuration.observe(a.duration_ms / 1000);
        },
        logger,
        timeoutMs: config.CALLBACK_TIMEOUT_MS,
        maxResponseBytes: config.CALLBACK_MAX_RESPONSE_BYTES,
        concurrency: config.CALLBACK_CONCURRENCY,
        hostConcurrency: config.CALLBACK_HOST_CONCURRENCY,
      }),
    /**
     * Last in every drain, after each part has had its grace. Redis goes
     * first, then the egress agent is destroyed rather than closed (which
     * would wait up to CALLBACK_TIMEOUT_MS for a slow receiver): a callback
     * attempt still in flight is cut off, and with Redis closed it is not
     * recorded, so it does not count as one of its attempts. Its delivery is
     * still claimed in Redis; when the claim's lease runs out, another process
     * sends it again (at-least-once: the receiver may already have seen it).
     */
    async close() {
      await closeRedis(redis);
      await egress.destroy().catch(() => undefined);
    },
  };
}
