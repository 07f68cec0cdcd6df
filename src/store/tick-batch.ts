/**
 * Coalesces the calls made in one turn of the event loop into one call of a
 * batch function (one Redis script call for many tasks).
 *
 * Why: a script call costs ioredis a command object, a promise, a reply
 * parse and a socket write, and Redis a script lookup and a Lua call,
 * whatever it carries; under load many tasks reach the same step in
 * the same turn (a busy API reads many requests per poll, a worker finishes
 * many jobs per turn). Measured for submits: ~2× less client CPU and ~30%
 * less Redis CPU per task at ten per call (docs/benchmarks-history.md, change 21).
 *
 * The batch goes out on `setImmediate`, so a call waits at most for the
 * rest of the current poll phase (then it is written at once: the clients do
 * not auto-pipeline, see src/runtime/redis.ts); a batch that reaches
 * `maxWeight` goes out at once, so one script never holds Redis long. Each
 * call gets its own item of the result; a failed batch fails every call in
 * it with the same error.
 */

export interface TickBatchOptions<I> {
  /** The weight of one item (e.g. its task count). @default 1 */
  weight?(item: I): number;
  /** A batch this heavy goes out at once. @default 256 */
  maxWeight?: number;
}

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(err: Error): void;
}

export function tickBatcher<I, O>(
  flush: (items: readonly I[]) => Promise<readonly O[]>,
  opts: TickBatchOptions<I> = {},
): (item: I) => Promise<O> {
  const weightOf = opts.weight ?? (() => 1);
  const maxWeight = opts.maxWeight ?? 256;
  let pending: Pending<I, O>[] = [];
  let weight = 0;
  let scheduled = false;

  const send = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    weight = 0;
    let result: Promise<readonly O[]>;
    try {
      result = flush(batch.map((p) => p.item));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (out) => {
        if (out.length !== batch.length) {
          const err = new Error(`batch answered ${out.length} results for ${batch.length} calls`);
          for (const p of batch) p.reject(err);
          return;
        }
        batch.forEach((p, i) => p.resolve(out[i] as O));
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const p of batch) p.reject(e);
      },
    );
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      weight += weightOf(item);
      if (weight >= maxWeight) send();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    });
}
