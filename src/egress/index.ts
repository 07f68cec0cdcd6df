/** The SSRF guard: the one way out of the process. See docs/security.md. */
export { classifyAddress, isIpLiteral, stripBrackets, type AddressVerdict } from './address.js';
export { parseAllowlist, normalizeHostname, type Allowlist } from './allowlist.js';
export {
  checkUrl,
  egressPolicyFromConfig,
  judgeAddress,
  judgeResolved,
  systemLookup,
  type CheckUrlOptions,
  type EgressPolicy,
  type LookupFn,
  type ResolvedAddress,
} from './policy.js';
export { createCheckedLookup, createEgressAgent, type EgressAgentOptions, type NetLookup } from './agent.js';
export { cachedCheck, type CheckCacheOptions } from './check-cache.js';
