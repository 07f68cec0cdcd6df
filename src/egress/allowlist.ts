/**
 * `CALLBACK_ALLOWLIST`: the only exception to the SSRF block, and a narrow
 * one. A CIDR entry (or a bare IP, read as a /32 or /128) lets addresses
 * inside it through; a hostname entry lets exactly that name through,
 * whatever it resolves to. Nothing else is lifted: allowing `127.0.0.0/8`
 * does not allow `10.0.0.5`, and allowing `callback.test` does not allow
 * `x.callback.test`.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../errors.js';
import { stripBrackets } from './address.js';

export interface Allowlist {
  /** The entries as configured. */
  readonly entries: readonly string[];
  /** Whether this exact hostname is listed (case and a trailing dot do not matter). */
  allowsHost(hostname: string): boolean;
  /** Whether this IP address is inside a listed CIDR. IPv4-mapped IPv6 is matched as its IPv4 address. */
  allowsAddress(ip: string): boolean;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

// RFC 1123 labels; underscores tolerated because internal DNS often has them.
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Lower case, no trailing dot: `Callback.Test.` and `callback.test` are one name. */
export function normalizeHostname(hostname: string): string {
  return stripBrackets(hostname).toLowerCase().replace(/\.$/, '');
}

/**
 * Parses allowlist entries (CIDRs, IP addresses, hostnames). Throws a
 * ConfigError naming every entry that is none of these, so a typo fails at
 * start-up instead of silently blocking (or allowing) the wrong thing.
 */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  const cidrs: Cidr[] = [];
  const hosts = new Set<string>();
  const bad: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    const cidr = parseCidrEntry(entry);
    if (cidr) cidrs.push(cidr);
    else if (!entry.includes('/') && HOSTNAME.test(normalizeHostname(entry))) hosts.add(normalizeHostname(entry));
    else bad.push(entry);
  }
  if (bad.length > 0) {
    throw new ConfigError(
      bad.map((entry) => ({
        field: 'CALLBACK_ALLOWLIST',
        message: `${JSON.stringify(entry)} is not a CIDR (10.0.0.0/8), an IP address or an exact hostname`,
      })),
    );
  }
  return {
    entries: [...entries],
    allowsHost: (hostname) => hosts.size > 0 && hosts.has(normalizeHostname(hostname)),
    allowsAddress: (ip) => cidrs.length > 0 && matchesAny(ip, cidrs),
  };
}

/** `10.0.0.0/8`, `::1/128`, or a bare address; canonical text only (no `127.1`). */
function parseCidrEntry(entry: string): Cidr | undefined {
  const [addr = '', prefix, ...rest] = stripBrackets(entry).split('/');
  if (rest.length > 0 || isIP(addr) === 0) return undefined;
  if (prefix === undefined) {
    const parsed = ipaddr.parse(addr);
    return [parsed, parsed.kind() === 'ipv4' ? 32 : 128];
  }
  if (!/^\d{1,3}$/.test(prefix)) return undefined;
  try {
    return ipaddr.parseCIDR(`${addr}/${prefix}`);
  } catch {
    return undefined;
  }
}

function matchesAny(ip: string, cidrs: readonly Cidr[]): boolean {
  const text = stripBrackets(ip);
  if (isIP(text) === 0) return false;
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(text);
  // The mapped form reaches the IPv4 address, so it is judged (and allowed) as one.
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  return cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
}
