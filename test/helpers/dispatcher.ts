/** A delivery dispatcher for tests: one request in flight per host, no retries, signed with the test secret. */
import type { Dispatcher } from 'undici';
import { createDeliveryDispatcher, type DeliveryDispatcher, type DispatcherOptions } from '../../src/delivery/dispatcher.js';
import type { Outbox } from '../../src/delivery/outbox.js';
import { createSigner } from '../../src/delivery/sign.js';
import { silentLogger } from '../../src/logger.js';
import { TEST_SECRET } from './signatures.js';

export function testDispatcher(outbox: Outbox, agent: Dispatcher, o: Partial<DispatcherOptions> & { timeoutMs: number }): DeliveryDispatcher {
  const signer = createSigner(TEST_SECRET);
  return createDeliveryDispatcher({
    outbox,
    agent,
    route: () => ({ signer, headers: {} }),
    policy: { maxRetries: 0, backoffMs: 1000, retryAfterMaxMs: 1000, retryStatuses: [] },
    logger: silentLogger(),
    maxResponseBytes: 1024,
    concurrency: 10,
    hostConcurrency: 1,
    ...o,
  });
}
