/**
 * CPU time of the bench's processes, read from /proc (Linux only), so the
 * report can say what one task costs in each process: with every process on
 * the same cores, that split, not any one rate, bounds the end-to-end figure.
 */
import { readFileSync } from 'node:fs';

/** User + system CPU seconds of `pid` so far; NaN when unknown (not Linux, process gone). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after the `(comm)`: utime and stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export type CpuParts = Record<string, number>;

/** Starts a measurement over named groups of pids; `stop(n)` gives CPU ms per unit of work (per task). */
export function cpuMeter(parts: Record<string, (number | undefined)[]>): { stop(units: number): CpuParts } {
  const sum = (pids: (number | undefined)[]): number => {
    let s = 0;
    for (const pid of pids) s += cpuSeconds(pid);
    return s;
  };
  const before = new Map(Object.entries(parts).map(([k, pids]) => [k, sum(pids)]));
  return {
    stop(units) {
      const out: CpuParts = {};
      let total = 0;
      for (const [k, pids] of Object.entries(parts)) {
        const ms = ((sum(pids) - (before.get(k) ?? Number.NaN)) * 1000) / Math.max(1, units);
        out[k] = ms;
        total += ms;
      }
      out.total = total;
      return out;
    },
  };
}
