/** A worker's own `GET /metrics` (and `/healthz`) on METRICS_PORT, for Prometheus. */
import http from 'node:http';
import type { Metrics } from '../metrics/metrics.js';
import { listen } from './listen.js';

export async function startMetricsServer(metrics: Metrics, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.setHeader('content-type', metrics.registry.contentType);
          res.end(text);
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ok"}');
      return;
    }
    res.statusCode = 404;
    res.setHeader('content-type', 'application/problem+json');
    res.end('{"type":"urn:taskhook:problem:not_found","title":"Not Found","status":404,"code":"not_found"}');
  });
  await listen(server, port, host, 'METRICS_PORT');
  return server;
}
