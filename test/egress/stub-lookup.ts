/** A resolver stub for egress tests: names map to fixed answers; calls are counted. */
import type { LookupFn, ResolvedAddress } from '../../src/egress/index.js';

export type Answer = ResolvedAddress[] | ((call: number) => ResolvedAddress[]);

export interface StubLookup {
  lookup: LookupFn;
  /** Calls per hostname. */
  calls: Map<string, number>;
}

export const a4 = (address: string): ResolvedAddress => ({ address, family: 4 });
export const a6 = (address: string): ResolvedAddress => ({ address, family: 6 });

/** Unknown names fail like getaddrinfo does (ENOTFOUND). */
export function stubLookup(table: Record<string, Answer>): StubLookup {
  const calls = new Map<string, number>();
  const lookup: LookupFn = async (hostname) => {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    const answer = table[name];
    if (answer === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    return typeof answer === 'function' ? answer(n) : answer;
  };
  return { lookup, calls };
}
