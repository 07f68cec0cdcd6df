/** The explicit list of task definitions a process knows. */
import type { QueueName } from '../config.js';
import type { AnyTaskDefinition, TaskDefinition } from './define.js';
import type { z } from 'zod';

export interface TaskRegistry {
  get(name: string): AnyTaskDefinition | undefined;
  names(): string[];
  /** Queues that at least one task uses. */
  queues(): QueueName[];
  all(): AnyTaskDefinition[];
}

// Handlers are contravariant in their input; the registry validates input with
// the definition's own schema before calling, so erasing the type is sound.
type Erasable = TaskDefinition<z.ZodType, Record<string, unknown>> | TaskDefinition<never, never>;

export function createRegistry(defs: readonly Erasable[]): TaskRegistry {
  const byName = new Map<string, AnyTaskDefinition>();
  for (const def of defs as readonly AnyTaskDefinition[]) {
    if (byName.has(def.name)) throw new TypeError(`Task "${def.name}" is registered twice`);
    byName.set(def.name, def);
  }
  const sorted = [...byName.keys()].sort();
  return {
    get: (name) => byName.get(name),
    names: () => [...sorted],
    queues: () => [...new Set([...byName.values()].map((d) => d.queue))],
    all: () => sorted.map((n) => byName.get(n) as AnyTaskDefinition),
  };
}
