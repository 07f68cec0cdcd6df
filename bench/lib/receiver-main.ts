/**
 * The bench's callback receiver: a bare node:http server in its own process
 * (so it never competes with the load generator's event loop), on one or more
 * loopback ports. Driven over IPC by `receiver.ts`. Per port it can answer
 * 200, hang (never answer), or in chaos mode answer 500 / drop the
 * connection for a share of requests; it can go fully down for a while.
 * Chaos runs also append every request to a JSONL log: the receiver's own
 * record of what arrived, which the chaos checks read.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowMs } from './clock.js';
import type { ReceiverCommand, ReceiverConfig, ReceiverRecord } from './receiver-protocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ReceiverConfig;
const modes = new Map<number, 'ok' | 'hang'>();
let failRate = 0;
let records: ReceiverRecord[] = [];
let requests = 0;
let hung = 0;
const acked = new Set<string>();
const log: WriteStream | null = config.logFile ? createWriteStream(config.logFile, { flags: 'a' }) : null;
const servers = new Map<number, http.Server>();

function handler() {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const port = req.socket.localPort ?? 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = nowMs();
      requests += 1;
      if (modes.get(port) === 'hang') {
        hung += 1;
        return; // the sender's timeout ends it
      }
      let taskId = '';
      let event = '';
      let doneAt = Number.NaN;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        taskId = typeof body.task_id === 'string' ? body.task_id : '';
        event = typeof body.event === 'string' ? body.event : '';
        const done = body.completed_at ?? body.failed_at;
        if (typeof done === 'string') doneAt = Date.parse(done);
      } catch {
        /* not a callback: counted, not recorded */
      }
      let reply: 200 | 500 | 'drop' = 200;
      if (failRate > 0) {
        const r = Math.random();
        if (r < failRate / 2) reply = 500;
        else if (r < failRate) reply = 'drop';
      }
      const webhookId = String(req.headers['webhook-id'] ?? '');
      log?.write(`${JSON.stringify({ at: Math.round(at), task_id: taskId, event, webhook_id: webhookId, reply })}\n`);
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      if (reply === 200 && taskId) {
        records.push([at, port, taskId, doneAt, event === 'task.completed' ? 1 : 0]);
        acked.add(taskId);
      }
      res.statusCode = reply;
      res.end(reply === 200 ? 'ok' : 'nope');
    });
  };
}

async function listen(port: number): Promise<number> {
  const server = http.createServer(handler());
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  servers.set(actual, server);
  return actual;
}

async function down(port: number): Promise<void> {
  const s = servers.get(port);
  if (!s) return;
  servers.delete(port);
  await new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

function reply(id: number, body: Record<string, unknown>): void {
  process.send?.({ id, ...body });
}

process.on('message', (raw: unknown) => {
  const m = raw as ReceiverCommand;
  switch (m.cmd) {
    case 'mode':
      modes.set(m.port, m.mode);
      return reply(m.id, {});
    case 'failRate':
      failRate = m.rate;
      return reply(m.id, {});
    case 'down': {
      const ports = [...servers.keys()];
      void Promise.all(ports.map(down)).then(() => {
        reply(m.id, {});
        setTimeout(() => void Promise.all(ports.map(listen)).then(() => process.send?.({ event: 'up' })), m.ms);
      });
      return;
    }
    case 'count':
      return reply(m.id, { requests, hung, records: records.length, acked: acked.size });
    case 'dump':
      return reply(m.id, { records });
    case 'reset':
      records = [];
      requests = 0;
      hung = 0;
      acked.clear();
      return reply(m.id, {});
    case 'missing':
      return reply(m.id, { missing: m.ids.filter((x) => !acked.has(x)) });
    case 'flush':
      if (!log) return reply(m.id, {});
      log.write('', () => reply(m.id, {}));
      return;
    default:
      return undefined;
  }
});

// Without the parent there is no one to stop us.
process.on('disconnect', () => process.exit(0));

void Promise.all((config.ports ?? [0]).map(listen)).then((ports) => {
  for (const p of ports) modes.set(p, 'ok');
  process.send?.({ event: 'ready', ports });
});
