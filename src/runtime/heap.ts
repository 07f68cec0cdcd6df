/**
 * How far V8 lets a worker's old generation grow between full collections.
 *
 * V8 picks the growth step itself (up to 4× the live data after a full GC)
 * and a busy worker allocates fast, so its heap settled at ~85–90 MiB around
 * ~25–35 MiB of live objects, nearly all of it garbage not yet collected. A
 * fixed step of 60% keeps the heap at ~45 MiB at about the same CPU per task:
 * ~130 MiB RSS per busy worker instead of ~160–190 MiB (with the young
 * generation below; docs/benchmarks.md, Memory).
 *
 * This flag is read at every full GC, so it can be set from inside the
 * running process, and it then applies however the worker was started
 * (compose, npm, the CLI). The young generation keeps V8's default size (two
 * 16 MiB semi-spaces): capping it at 4 MiB saved ~23 MiB RSS but cost ~15% of
 * a busy worker's CPU in scavenges (docs/benchmarks.md, Memory).
 */
import { setFlagsFromString } from 'node:v8';

/** `percent` 0 leaves V8's own adaptive growth. */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
