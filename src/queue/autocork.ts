/**
 * Batches the socket writes of a bee-queue (node-redis v3) client.
 *
 * node-redis writes every command with its own `write()` syscall. A busy
 * worker issues several bee-queue commands per job (stall-guard SREM, job
 * fetch HGET, the ack MULTI) from many jobs in the same tick, and in the
 * worker's profile those one-command writes were the largest single item.
 * The client's socket is corked on its first write and uncorked by a
 * `setImmediate`, so everything written until the event loop's next check
 * phase (MULTI blocks included, whose own cork/uncork nests inside ours)
 * leaves in one `writev`, like ioredis's auto-pipelining, which defers the
 * same way; replies and their order are unchanged (Redis answers a pipeline
 * in order). A tick (`nextTick`) would be too short: bee-queue asks for each
 * freed job slot's next job in its own `setImmediate` callback, and Node runs
 * the tick queue between those callbacks.
 *
 * Only the socket is corked, never node-redis's own pipeline: the held bytes
 * belong to that socket, so when a connection drops they go with it and can
 * never reach the next one.
 */

/** The parts of a node-redis v3 client this relies on. */
interface CorkableClient {
  ready: boolean;
  write(data: string | Buffer): void;
  /** Replaced on every reconnect. */
  stream: { cork(): void; uncork(): void };
}

const PATCHED = Symbol('taskhook.autocork');

export function autoCork(client: unknown): void {
  const c = client as CorkableClient & { [PATCHED]?: true };
  if (c[PATCHED] || typeof c.write !== 'function') return;
  c[PATCHED] = true;
  const write = c.write;
  let corked = false;
  c.write = function corkingWrite(this: CorkableClient, data: string | Buffer): void {
    // Not ready: the ready check and offline queue go out as node-redis sends them.
    if (!corked && this.ready) {
      corked = true;
      const stream = this.stream;
      stream.cork();
      setImmediate(() => {
        corked = false;
        stream.uncork();
      });
    }
    write.call(this, data);
  };
}
