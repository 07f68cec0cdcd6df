import { createHash } from 'node:crypto';

/** Every Redis key name taskhook uses, in one place (see docs/architecture.md). */

export interface Keys {
  readonly prefix: string;
  task(taskId: string): string;
  delivery(deliveryId: string): string;
  /**
   * The attempts list of a delivery written before attempts moved into the
   * delivery's hash (`att:N`, see attemptRecords): read, and pruned, for the
   * deliveries an earlier version left behind; never written.
   */
  attempts(deliveryId: string): string;
  readonly due: string;
  /** `P:dlv:` — delivery keys are this plus the delivery id. */
  readonly deliveryPrefix: string;
  /** The tenant's dead letters (deliveries whose retries are exhausted). */
  dead(tenant: string): string;
  /** `P:wh:` — subscription keys are this plus the subscription id. */
  readonly webhookPrefix: string;
  webhook(id: string): string;
  /** The tenant's subscriptions, scored by creation time. */
  tenantWebhooks(tenant: string): string;
  /** Pub/sub channel for cancel requests (message: the task id). */
  readonly cancelChannel: string;
  /** bee-queue's own prefix; its keys are `${bq}:${queue}:…`. */
  readonly bq: string;
  /** `P:workers:` — worker heartbeats are this plus `{host}:{pid}`. */
  readonly workersPrefix: string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    task: (id) => `${prefix}:task:${id}`,
    delivery: (id) => `${prefix}:dlv:${id}`,
    attempts: (id) => `${prefix}:dlv:${id}:att`,
    due: `${prefix}:dlv:due`,
    deliveryPrefix: `${prefix}:dlv:`,
    dead: (tenant) => `${prefix}:dlv:dead:${tenant}`,
    webhookPrefix: `${prefix}:wh:`,
    webhook: (id) => `${prefix}:wh:${id}`,
    tenantWebhooks: (tenant) => `${prefix}:wh:t:${tenant}`,
    cancelChannel: `${prefix}:cancel`,
    bq: `${prefix}:bq`,
    workersPrefix: `${prefix}:workers:`,
  };
}

/** The delivery id of a task's callback for one outcome generation. */
export function taskDeliveryId(taskId: string, gen: number): string {
  return `${taskId}.${gen}`;
}

/** The `webhook-id` of a subscription delivery: stable per event and endpoint. */
export function subscriptionMessageId(deliveryId: string): string {
  return `msg_${createHash('sha256').update(deliveryId).digest('hex').slice(0, 32)}`;
}

/** The `webhook-id` of a task's callback: stable across retries and resends of one outcome. */
export function taskMessageId(taskId: string, gen: number): string {
  return `msg_${taskId.replace(/-/g, '')}_${gen}`;
}
