/** The runner's handle on the receiver process (`receiver-main.ts`). */
import { fileURLToPath } from 'node:url';
import { createIpcClient } from './ipc.js';
import { logPath, type ProcessGroup } from './procs.js';
import type { ReceiverCounts, ReceiverRecord } from './receiver-protocol.js';

export interface ReceiverHandle {
  ports: number[];
  /** `http://127.0.0.1:<port>/cb` for the i-th port. */
  url(i?: number): string;
  pid: number | undefined;
  mode(port: number, mode: 'ok' | 'hang'): Promise<void>;
  /** Share of requests answered 500 or dropped (half each). */
  failRate(rate: number): Promise<void>;
  /** Closes every port (and open connection) now; listens again after `ms`. Resolves when down. */
  down(ms: number): Promise<void>;
  /** Resolves when the ports listen again after `down`. */
  up(timeoutMs?: number): Promise<void>;
  count(): Promise<ReceiverCounts>;
  dump(): Promise<ReceiverRecord[]>;
  reset(): Promise<void>;
  /** Which of `ids` have had no callback answered 200. */
  missing(ids: string[]): Promise<string[]>;
  /** Waits until the JSONL log is written out. */
  flush(): Promise<void>;
}

export interface ReceiverOptions {
  group: ProcessGroup;
  logDir: string;
  ports?: number;
  /** JSONL log of every request (chaos). */
  requestLog?: string;
}

export async function startReceiver(opts: ReceiverOptions): Promise<ReceiverHandle> {
  const script = fileURLToPath(new URL('./receiver-main.ts', import.meta.url));
  const config = { ports: Array.from({ length: opts.ports ?? 1 }, () => 0), logFile: opts.requestLog };
  const child = opts.group.node(script, { args: [JSON.stringify(config)], logFile: logPath(opts.logDir, 'receiver'), ipc: true });
  const ipc = createIpcClient(child, 'receiver');
  const { ports } = await ipc.event<{ ports: number[] }>('ready', 30_000);
  return {
    ports,
    pid: child.pid,
    url: (i = 0) => `http://127.0.0.1:${ports[i]}/cb`,
    mode: async (port, mode) => void (await ipc.call({ cmd: 'mode', port, mode })),
    failRate: async (rate) => void (await ipc.call({ cmd: 'failRate', rate })),
    down: async (ms) => void (await ipc.call({ cmd: 'down', ms })),
    up: async (timeoutMs = 60_000) => void (await ipc.event('up', timeoutMs)),
    count: () => ipc.call<ReceiverCounts>({ cmd: 'count' }),
    dump: async () => (await ipc.call<{ records: ReceiverRecord[] }>({ cmd: 'dump' })).records,
    reset: async () => void (await ipc.call({ cmd: 'reset' })),
    missing: async (ids) => (await ipc.call<{ missing: string[] }>({ cmd: 'missing', ids })).missing,
    flush: async () => void (await ipc.call({ cmd: 'flush' })),
  };
}
