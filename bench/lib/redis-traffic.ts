/**
 * Redis traffic per task, read from Redis's own counters: commands run
 * (an EVALSHA and each command inside it count alike), socket reads (≈ client round trips:
 * one read per batch a client sends) and replies written. Unlike rates and
 * CPU time these are counts, so they do not move with the machine's speed:
 * a change that saves a round trip shows here exactly.
 */
import type { Redis } from 'ioredis';

export interface RedisTraffic {
  /** Commands executed, including those inside Lua scripts. */
  commands: number;
  /** Socket reads Redis made: each is one batch of commands from one client. */
  reads: number;
  /** Bytes clients sent to Redis, and Redis sent back (RESP framing included). */
  bytesIn: number;
  bytesOut: number;
  /** The biggest per-command counts (client-sent and script-internal alike). */
  top: Record<string, number>;
}

function field(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
}

/** `cmdstat_<name>:calls=N,...` lines of INFO commandstats. */
export function parseCommandStats(info: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1] as string, Number(m[2]));
  return out;
}

/** Counters since the last reset, minus the meter's own INFO/CONFIG commands. */
async function snapshot(c: Redis): Promise<{ reads: number; bytesIn: number; bytesOut: number; stats: Map<string, number> }> {
  const stats = await c.info('stats');
  return {
    reads: field(stats, 'total_reads_processed'),
    bytesIn: field(stats, 'total_net_input_bytes'),
    bytesOut: field(stats, 'total_net_output_bytes'),
    stats: parseCommandStats(await c.info('commandstats')),
  };
}

/**
 * Resets Redis's counters now; `stop(n)` reads them and divides by `n` tasks.
 * Anything else talking to this Redis meanwhile is counted too, so run it
 * around one phase with only the stack under test connected.
 */
export async function redisTrafficMeter(c: Redis): Promise<{ stop(units: number): Promise<RedisTraffic> }> {
  await c.config('RESETSTAT');
  return {
    async stop(units) {
      const s = await snapshot(c);
      const n = Math.max(1, units);
      // The meter's own INFO commands are a handful against tens of thousands.
      let inner = 0;
      for (const [name, calls] of s.stats) if (name !== 'info' && name !== 'config|resetstat') inner += calls;
      const top = Object.fromEntries(
        [...s.stats]
          .filter(([name]) => name !== 'info' && !name.startsWith('config'))
          .sort((a, b) => b[1] - a[1])
          .slice(0, 30)
          .map(([name, calls]) => [name, Math.round((calls / n) * 100) / 100]),
      );
      return { commands: inner / n, reads: s.reads / n, bytesIn: s.bytesIn / n, bytesOut: s.bytesOut / n, top };
    },
  };
}
