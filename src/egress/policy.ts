/**
 * The egress policy and the submit-time URL check. The same judgement
 * (`judgeResolved`) runs again inside the agent's connector at every
 * connection, so what was accepted at submit is never trusted later.
 */
import { promises as dns } from 'node:dns';
import type { Config } from '../config.js';
import { DestinationBlockedError, ValidationError } from '../errors.js';
import { classifyAddress, isIpLiteral, stripBrackets } from './address.js';
import { parseAllowlist, type Allowlist } from './allowlist.js';

export interface EgressPolicy {
  /** Whether `http:` URLs may be used (`https:` always may). */
  allowHttp: boolean;
  /** The only exception to the address block. */
  allowlist: Allowlist;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to every address it has. Injectable for tests. */
export type LookupFn = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo, so /etc/hosts counts), every address. */
export const systemLookup: LookupFn = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Builds the policy from config; throws ConfigError on a malformed allowlist entry. */
export function egressPolicyFromConfig(
  config: Pick<Config, 'CALLBACK_ALLOW_HTTP' | 'CALLBACK_ALLOWLIST'>,
): EgressPolicy {
  return { allowHttp: config.CALLBACK_ALLOW_HTTP, allowlist: parseAllowlist(config.CALLBACK_ALLOWLIST) };
}

export interface CheckUrlOptions {
  /** Resolver for hostnames. @default systemLookup (dns.lookup with `all: true`) */
  lookup?: LookupFn;
}

/**
 * Checks a destination URL before it is accepted (e.g. a task's
 * `callback_url`). Returns the parsed URL.
 *
 * - Not a URL at all: ValidationError (`validation_failed`).
 * - Everything the policy refuses — scheme, credentials in the URL, `http:`
 *   when not allowed, a blocked IP literal, a name that resolves to any
 *   blocked address: DestinationBlockedError (`destination_blocked`).
 * - A name that does not resolve (yet) passes: DNS failure is not a policy
 *   decision, and every connection attempt is checked again anyway.
 */
export async function checkUrl(url: string, policy: EgressPolicy, opts: CheckUrlOptions = {}): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError('Not a valid absolute URL.', [{ field: 'url', message: 'must be an absolute URL' }]);
  }
  checkScheme(parsed, policy);
  // Credentials would be sent to the receiver and logged; `http://evil.com@127.0.0.1/` is also a classic disguise.
  if (parsed.username !== '' || parsed.password !== '') {
    throw new DestinationBlockedError('URLs must not carry credentials (userinfo@host)');
  }
  const host = stripBrackets(parsed.hostname);
  if (host === '') throw new DestinationBlockedError('the URL has no host');
  if (policy.allowlist.allowsHost(host)) return parsed;
  if (isIpLiteral(host)) {
    const reason = judgeAddress(host, policy);
    if (reason !== undefined) throw new DestinationBlockedError(reason);
    return parsed;
  }
  let addresses: ResolvedAddress[];
  try {
    addresses = await (opts.lookup ?? systemLookup)(host);
  } catch {
    return parsed;
  }
  const reason = judgeResolved(host, addresses, policy);
  if (reason !== undefined) throw new DestinationBlockedError(reason);
  return parsed;
}

function checkScheme(url: URL, policy: EgressPolicy): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (policy.allowHttp) return;
    throw new DestinationBlockedError('http is not allowed (CALLBACK_ALLOW_HTTP=false); use https');
  }
  const allowed = policy.allowHttp ? 'http and https' : 'https';
  throw new DestinationBlockedError(`the scheme ${JSON.stringify(url.protocol)} is not allowed (only ${allowed})`);
}

/** Why an IP address may not be dialled under this policy, or undefined when it may. */
export function judgeAddress(ip: string, policy: EgressPolicy): string | undefined {
  const verdict = classifyAddress(ip);
  if (verdict.allowed || policy.allowlist.allowsAddress(ip)) return undefined;
  return verdict.reason;
}

/**
 * Why a resolved name may not be dialled, or undefined when it may. If ANY
 * address of the answer is blocked the whole name is: filtering would make
 * the outcome depend on which address the socket happens to pick, and a
 * public name with a private record is a misconfiguration or an attack.
 */
export function judgeResolved(
  hostname: string,
  addresses: readonly ResolvedAddress[],
  policy: EgressPolicy,
): string | undefined {
  if (policy.allowlist.allowsHost(hostname)) return undefined;
  for (const { address } of addresses) {
    const reason = judgeAddress(address, policy);
    if (reason !== undefined) return `${hostname} resolves to a blocked address: ${reason}`;
  }
  return undefined;
}
