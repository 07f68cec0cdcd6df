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

/** The `cpu` line of /proc/stat: [steal ticks, all ticks]; NaNs when unreadable. */
function hostTicks(): [number, number] {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return [t[7] ?? Number.NaN, t.reduce((a, b) => a + b, 0)];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

/**
 * Steal time: the share of this VM's CPU time the hypervisor gave to other
 * guests while the meter ran. On a shared host it is why one run is twice as
 * fast as the next, and a stalled vCPU shows up directly in tail latency.
 */
export function stealMeter(): { stop(): number } {
  const [s0, t0] = hostTicks();
  return {
    stop() {
      const [s1, t1] = hostTicks();
      return t1 > t0 ? (100 * (s1 - s0)) / (t1 - t0) : Number.NaN;
    },
  };
}
