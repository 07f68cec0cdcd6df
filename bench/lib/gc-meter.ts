/**
 * A worker's garbage collections per task, read from its own `/metrics`
 * (prom-client's `nodejs_gc_duration_seconds`, by kind). The number of young
 * generation collections per task follows what a task allocates, so like the
 * Redis counts it barely moves with the machine's speed; GC milliseconds do.
 */

export interface GcTraffic {
  /** Young-generation collections (scavenges) per 1,000 tasks. */
  minorPerKTasks: number;
  /** Full (mark-compact) collections per 1,000 tasks. */
  majorPerKTasks: number;
  /** Time in GC pauses per task, ms (all kinds). */
  msPerTask: number;
}

interface GcSample {
  count: Map<string, number>;
  seconds: number;
}

/** The GC series of a Prometheus text exposition. */
export function parseGcMetrics(text: string): GcSample {
  const count = new Map<string, number>();
  let seconds = 0;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(count|sum)\{kind="(\w+)"\} ([\d.e+-]+)$/gm)) {
    if (m[1] === 'count') count.set(m[2] as string, Number(m[3]));
    else seconds += Number(m[3]);
  }
  return { count, seconds };
}

async function sample(url: string): Promise<GcSample> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parseGcMetrics(await res.text());
}

/** Reads `metricsUrl` now; `stop(n)` reads it again and divides by `n` tasks. */
export async function gcMeter(metricsUrl: string): Promise<{ stop(units: number): Promise<GcTraffic> }> {
  const before = await sample(metricsUrl);
  return {
    async stop(units) {
      const after = await sample(metricsUrl);
      const n = Math.max(1, units);
      const delta = (kind: string): number => (after.count.get(kind) ?? 0) - (before.count.get(kind) ?? 0);
      return {
        minorPerKTasks: (delta('minor') / n) * 1000,
        majorPerKTasks: (delta('major') / n) * 1000,
        msPerTask: ((after.seconds - before.seconds) * 1000) / n,
      };
    },
  };
}
