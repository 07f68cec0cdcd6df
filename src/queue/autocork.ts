/**
 * Batches the socket writes of a bee-queue (node-redis v3) client.
 *
 * node-redis writes every command with its own `write()` syscall unless the
 * client is corked. A busy worker issues several bee-queue commands per job
 * (stall-guard SREM, job fetch HGET, the ack MULTI) from many jobs in the same
 * tick, and in the worker's profile those one-command writes were the largest
 * single item. Corking on the first write of a tick and uncorking on the next
 * tick sends them as one write, like ioredis's auto-pipelining; replies and
 * their order are unchanged (Redis answers a pipeline in order).
 */

/** The parts of a node-redis v3 client this relies on. */
interface CorkableClient {
  ready: boolean;
  pipeline: boolean;
  cork(): void;
  uncork(): void;
  write(data: string | Buffer): void;
  /** Commands written while corked, not yet on the socket. */
  pipeline_queue: { length: number; shift(): unknown };
  /** Replaced on every reconnect. */
  stream: { destroyed: boolean };
}

const PATCHED = Symbol('taskhook.autocork');

export function autoCork(client: unknown): void {
  const c = client as CorkableClient & { [PATCHED]?: true };
  if (c[PATCHED] || typeof c.write !== 'function') return;
  c[PATCHED] = true;
  const write = c.write;
  let corked = false;
  c.write = function corkingWrite(this: CorkableClient, data: string | Buffer): void {
    // `pipeline` is node-redis's own cork (MULTI): it flushes that itself.
    // Not ready = offline queue; node-redis replaces cork/uncork on reconnect,
    // so they are looked up at call time.
    if (!corked && this.ready && !this.pipeline) {
      corked = true;
      const stream = this.stream;
      this.cork();
      process.nextTick(() => {
        corked = false;
        // `ready` is no test here: QUIT clears it right after its own write.
        if (this.stream === stream && !stream.destroyed) return this.uncork();
        // The connection dropped in between: node-redis fails or retries the
        // commands themselves, and their bytes must not reach the next connection.
        while (this.pipeline_queue.length > 0) this.pipeline_queue.shift();
      });
    }
    write.call(this, data);
  };
}
