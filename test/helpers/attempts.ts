import type { Redis } from 'ioredis';
import type { Keys } from '../../src/store/keys.js';
import { attemptRecords } from '../../src/store/fields.js';

/** A delivery's attempt records as the API reads them (the hash's `att:N`, after an earlier version's list). */
export async function storedAttempts(client: Redis, keys: Keys, deliveryId: string): Promise<string[]> {
  const [hash, legacy] = await Promise.all([client.hgetall(keys.delivery(deliveryId)), client.lrange(keys.attempts(deliveryId), 0, -1)]);
  return attemptRecords(hash, legacy);
}
