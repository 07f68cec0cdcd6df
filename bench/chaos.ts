/**
 * `npm run chaos [-- --tasks N] [-- --rate R] [-- --keep]`: the full chaos run
 * (see bench/lib/chaos.ts). Exits non-zero on any lost or stuck task.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatChaosReport, runChaos } from './lib/chaos.js';

const { values } = parseArgs({ options: { tasks: { type: 'string' }, rate: { type: 'string' }, keep: { type: 'boolean', default: false } } });
const log = (m: string): void => void process.stderr.write(`${m}\n`);

runChaos({
  tasks: Number(values.tasks ?? 2400),
  rate: Number(values.rate ?? 100),
  workers: 3,
  concurrency: 16,
  killEveryMs: 2000,
  redisRestartAt: 0.4,
  apiRestartAt: 0.6,
  receiverFailRate: 0.3,
  receiverOutageMs: 5000,
  receiverOutageAt: 0.75,
  drainTimeoutMs: 120_000,
  keepFiles: values.keep === true,
  log,
}).then(
  (report) => {
    process.stdout.write(`${formatChaosReport(report)}\n`);
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `chaos-${new Date().toISOString().slice(0, 10)}.json`);
    writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), ...report, lost: report.lost.slice(0, 100) }, null, 2)}\n`);
    log(`wrote ${file}`);
    process.exit(report.ok ? 0 : 1);
  },
  (err: unknown) => {
    log(`chaos failed to run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
