/**
 * Waiting for something that may never answer (a Redis command while the
 * connection hangs): one bounded wait, shared by every caller that must not
 * hang with it.
 */

/** What `within` gives when `ms` passed first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `promise`'s value, or TIMED_OUT once `ms` have passed; a rejection before
 * then is passed on. A rejection after the timeout has nobody waiting for it
 * and is dropped, so it is never reported as unhandled.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
