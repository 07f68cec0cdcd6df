/**
 * Counts a socket's writes as the kernel sees them: each `_write` or
 * `_writev` call is one syscall (corked bytes leave in one `_writev`).
 */
type WritableInternals = Record<'_write' | '_writev', (...args: unknown[]) => unknown>;

export interface WriteCounter {
  readonly writes: number;
  /** Puts the socket's own methods back. */
  restore(): void;
}

export function countSocketWrites(stream: unknown): WriteCounter {
  const s = stream as WritableInternals;
  const originals = { _write: s._write, _writev: s._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    const orig = originals[name];
    s[name] = function (this: unknown, ...args: unknown[]) {
      writes += 1;
      return orig.apply(this, args);
    };
  }
  return {
    get writes() {
      return writes;
    },
    restore() {
      s._write = originals._write;
      s._writev = originals._writev;
    },
  };
}
