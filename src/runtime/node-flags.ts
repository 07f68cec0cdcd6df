/**
 * Node/V8 flags a worker process is started with (docker-compose.yml,
 * `npm run worker`, the bench). They cannot be set from inside a running
 * process, so the start commands carry them; test/runtime/node-flags.test.ts
 * keeps those commands and this list in step.
 *
 * `--max-semi-space-size=4`: V8's young generation otherwise grows to two
 * 16 MiB semi-spaces under a worker's allocation rate and stays there. With
 * 4 MiB a worker held ~140–148 MiB RSS after 20,000 tasks instead of
 * ~160–177 MiB, with its CPU per task within the run-to-run noise
 * (docs/benchmarks.md, Memory). The old generation is capped from inside the
 * process instead (heap.ts), so it needs no flag here.
 */
export const WORKER_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=4']);
