/**
 * Loads the Lua scripts beside this file into an ioredis client as custom
 * commands (EVALSHA with automatic EVAL fallback). Read lazily, never at import.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { tickBatcher } from './tick-batch.js';

const cache = new Map<string, string>();

const INCLUDE = /^-- #include ([a-z0-9-]+)$/gm;
const LIB = new URL('../delivery/lua/lib/', import.meta.url);

/** A script's text, with `-- #include NAME` lines replaced by src/delivery/lua/lib/NAME.lua. */
function source(file: URL): string {
  let text = cache.get(file.href);
  if (text === undefined) {
    text = readFileSync(file, 'utf8').replace(INCLUDE, (_, name: string) =>
      readFileSync(new URL(`${name}.lua`, LIB), 'utf8'),
    );
    cache.set(file.href, text);
  }
  return text;
}

/**
 * Defines `name` (the file `<name>.lua` in `dir`) on the client once; later
 * calls are no-ops. Script names are global per client: keep them unique.
 */
export function defineScript(redis: Redis, dir: URL, name: string, numberOfKeys: number): void {
  const cmd = `th_${name}`;
  if (typeof (redis as unknown as Record<string, unknown>)[cmd] === 'function') return;
  redis.defineCommand(cmd, { numberOfKeys, lua: source(new URL(`${name}.lua`, dir)) });
}

/** Calls a script defined with `defineScript`. */
export function callScript<T>(redis: Redis, name: string, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
  const fn = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<T>>)[`th_${name}`];
  if (!fn) throw new Error(`Redis script ${name} was not defined on this client`);
  return fn.call(redis, ...keys, ...args);
}

/**
 * Calls script `name` once per event-loop turn for every call made in it
 * (tick-batch.ts): the arguments are `head()`, how many calls, then each
 * call's own arguments in turn; each call gets its own item of the reply.
 */
export function batchedScript<O>(redis: Redis, name: string, head: () => (string | number)[]): (args: readonly (string | number)[]) => Promise<O> {
  return tickBatcher<readonly (string | number)[], O>((calls) => {
    const args = head();
    args.push(calls.length);
    for (const call of calls) for (const v of call) args.push(v);
    return callScript<O[]>(redis, name, [], args);
  });
}
