/** Every Redis key name taskhook uses, in one place (see docs/architecture.md). */

export interface Keys {
  readonly prefix: string;
  task(taskId: string): string;
  delivery(deliveryId: string): string;
  attempts(deliveryId: string): string;
  readonly due: string;
  /** bee-queue's own prefix; its keys are `${bq}:${queue}:…`. */
  readonly bq: string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    task: (id) => `${prefix}:task:${id}`,
    delivery: (id) => `${prefix}:dlv:${id}`,
    attempts: (id) => `${prefix}:dlv:${id}:att`,
    due: `${prefix}:dlv:due`,
    bq: `${prefix}:bq`,
  };
}

/** The delivery id of a task's callback for one outcome generation. */
export function taskDeliveryId(taskId: string, gen: number): string {
  return `${taskId}.${gen}`;
}

/** The `webhook-id` of a task's callback: stable across retries and resends of one outcome. */
export function taskMessageId(taskId: string, gen: number): string {
  return `msg_${taskId.replace(/-/g, '')}_${gen}`;
}
