/** Request/reply over a forked child's IPC channel (numbered requests). */
import type { ChildProcess } from 'node:child_process';

export interface IpcClient {
  call<T>(msg: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Resolves on the next `{ event: name }` message from the child. */
  event<T = Record<string, unknown>>(name: string, timeoutMs?: number): Promise<T>;
}

export function createIpcClient(child: ChildProcess, label: string): IpcClient {
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const listeners: { name: string; resolve: (v: unknown) => void }[] = [];
  child.on('message', (raw: unknown) => {
    const m = raw as { id?: number; event?: string };
    if (typeof m.id === 'number') {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m);
    } else if (typeof m.event === 'string') {
      for (const l of [...listeners]) {
        if (l.name === m.event) {
          listeners.splice(listeners.indexOf(l), 1);
          l.resolve(m);
        }
      }
    }
  });
  child.once('exit', (code, signal) => {
    for (const [, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${label} exited (${signal ?? code}) before answering`));
    }
    pending.clear();
  });
  return {
    call<T>(msg: Record<string, unknown>, timeoutMs = 600_000): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label} did not answer ${String(msg.cmd)} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        child.send({ ...msg, id });
      });
    },
    event<T>(name: string, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${label}: no "${name}" within ${timeoutMs} ms`)), timeoutMs);
        listeners.push({
          name,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
        });
      });
    },
  };
}
