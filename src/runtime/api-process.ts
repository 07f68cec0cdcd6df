/** An API process: the Koa app on an HTTP server, with a bounded drain. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import { attachProblemHandlers } from '../api/problem.js';
import { createProducer, type Producer } from '../queue/producer.js';
import type { TaskRegistry } from '../tasks/registry.js';
import type { Router } from '@koa/router';
import { createFilesRouter } from '../api/routes/files.js';
import type { Services } from './services.js';
import { unlessRedisDown } from './redis.js';
import { listen } from './listen.js';

export interface RunningApi {
  server: http.Server;
  url: string;
  producer: Producer;
  /** Marks the process not ready, stops accepting, waits (bounded) for requests in flight. */
  close(graceMs: number): Promise<void>;
}

export interface ApiProcessOptions {
  registry: TaskRegistry;
  port: number;
  host: string;
  extraRouters?: Router[];
}

export async function startApiProcess(services: Services, opts: ApiProcessOptions): Promise<RunningApi> {
  const { config, logger } = services;
  let shuttingDown = false;
  const producer = createProducer({
    redis: services.redis,
    keys: services.keys,
    redisUrl: config.REDIS_URL,
    stallIntervalMs: config.STALL_INTERVAL_MS,
    logger,
  });
  const app = createApp({
    config,
    logger,
    registry: opts.registry,
    redis: services.redis,
    keys: services.keys,
    producer,
    checkCallbackUrl: (url) => services.checkCallbackUrl(url),
    egress: services.egress,
    metrics: services.metrics,
    isShuttingDown: () => shuttingDown,
    extraRouters: [createFilesRouter({ config, redis: services.redis, keys: services.keys }), ...(opts.extraRouters ?? [])],
  });
  const server = http.createServer(app.callback());
  // Requests Node's parser refuses (or an unsupported Expect) get a problem+json body too.
  attachProblemHandlers(server);
  // Slowloris guard: a client gets this long to send its headers and body.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await listen(server, opts.port, opts.host, 'PORT');
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${addr.port}`;
  logger.info('api listening', { url, pid: process.pid });
  return {
    server,
    url,
    producer,
    async close(graceMs) {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Requests in flight get the grace, unless Redis is down: those wait
      // for it and could not finish anyway (a drain does not wait for Redis).
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await unlessRedisDown(services.redis, Promise.race([closed, grace]));
      server.closeAllConnections();
      await unlessRedisDown(services.redis, producer.close());
    },
  };
}
