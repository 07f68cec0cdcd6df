/**
 * Address classification for the SSRF guard: only global unicast may be
 * dialled. Pure: no DNS, no config, no allowlist (see `allowlist.ts`).
 *
 * Ranges are ipaddr.js CIDRs matched with `match()`, never regexes over the
 * text, so every spelling of an address (`::ffff:7f00:1`, `0:0::ffff:127.0.0.1`)
 * lands in the same range.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

type Range<T> = [T, number];

interface NamedRange<T> {
  range: Range<T>;
  /** Completes "<ip> is …". */
  label: string;
}

function v4(cidr: string, label: string): NamedRange<ipaddr.IPv4> {
  return { range: ipaddr.IPv4.parseCIDR(cidr), label };
}

function v6(cidr: string, label: string): NamedRange<ipaddr.IPv6> {
  return { range: ipaddr.IPv6.parseCIDR(cidr), label };
}

const METADATA = 'a cloud metadata service address';

/**
 * First match wins, so the specific names (metadata, documentation) come
 * before the broad ranges that contain them. Anything not listed here is
 * still refused unless ipaddr.js calls it `unicast` (see classifyV4).
 */
const V4_BLOCKED: readonly NamedRange<ipaddr.IPv4>[] = [
  v4('169.254.169.254/32', METADATA), // AWS, GCP, Azure IMDS, OpenStack
  v4('168.63.129.16/32', METADATA), // Azure wire server (a public-looking address)
  v4('100.100.100.200/32', METADATA), // Alibaba Cloud
  v4('0.0.0.0/8', 'in the "this network" range 0.0.0.0/8 (reaches the local host)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('169.254.0.0/16', 'link-local'),
  v4('100.64.0.0/10', 'in carrier-grade NAT space (RFC 6598)'),
  v4('192.0.2.0/24', 'in a documentation range (RFC 5737)'),
  v4('198.51.100.0/24', 'in a documentation range (RFC 5737)'),
  v4('203.0.113.0/24', 'in a documentation range (RFC 5737)'),
  v4('198.18.0.0/15', 'in the benchmarking range (RFC 2544)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'broadcast'),
  v4('240.0.0.0/4', 'reserved (240.0.0.0/4)'),
  v4('192.0.0.0/24', 'reserved for IETF protocol assignments'),
];

const V6_BLOCKED: readonly NamedRange<ipaddr.IPv6>[] = [
  v6('fd00:ec2::254/128', METADATA), // AWS IMDS over IPv6
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fe80::/10', 'link-local'),
  v6('fc00::/7', 'unique-local (fc00::/7)'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
  v6('2001:db8::/32', 'in a documentation range (2001:db8::/32)'),
  v6('3fff::/20', 'in a documentation range (3fff::/20)'),
  v6('64:ff9b:1::/48', 'local-use NAT64 (RFC 8215)'),
  v6('2001::/32', 'Teredo (its embedded IPv4 addresses cannot be judged)'),
];

/** IPv6 forms that carry an IPv4 address: the IPv4 address is what gets reached. */
const MAPPED = ipaddr.IPv6.parseCIDR('::ffff:0:0/96');
const TRANSLATED = ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96');
const COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');
const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

const ALLOWED: AddressVerdict = { allowed: true };

const blocked = (reason: string): AddressVerdict => ({ allowed: false, reason });

/** `[::1]` → `::1`; anything else unchanged. URL hostnames keep the brackets. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Whether `host` is an IP address in canonical text form (dotted quad or
 * IPv6), i.e. what `new URL()` and DNS produce. Brackets are accepted.
 */
export function isIpLiteral(host: string): boolean {
  return isIP(stripBrackets(host)) !== 0;
}

/**
 * Judges one IP address. Only global unicast is allowed; the reason of a
 * refusal reads "<ip> is <what>", e.g. `127.0.0.1 is loopback`.
 *
 * Only canonical text is accepted (`net.isIP`): legacy spellings such as
 * `0x7f.1` or `2130706433` are refused here, because callers must classify
 * what `new URL()` or the resolver produced, never raw user text.
 */
export function classifyAddress(ip: string): AddressVerdict {
  const text = stripBrackets(ip);
  const family = isIP(text);
  if (family === 0) return blocked(`${JSON.stringify(ip)} is not an IP address`);
  if (text.includes('%')) return blocked(`${text} carries a zone index (only link-local addresses use one)`);
  return family === 4 ? classifyV4(ipaddr.IPv4.parse(text), text) : classifyV6(ipaddr.IPv6.parse(text), text);
}

function classifyV4(addr: ipaddr.IPv4, text: string): AddressVerdict {
  const problem = v4Problem(addr);
  return problem === undefined ? ALLOWED : blocked(`${text} is ${problem}`);
}

/** What is wrong with an IPv4 address, or undefined when it is global unicast. */
function v4Problem(addr: ipaddr.IPv4): string | undefined {
  const hit = V4_BLOCKED.find((r) => addr.match(r.range));
  if (hit) return hit.label;
  // Backstop for special ranges not named above (AS112, AMT, 6to4 relay …).
  const range = addr.range();
  return range === 'unicast' ? undefined : `not global unicast (${range})`;
}

function classifyV6(addr: ipaddr.IPv6, text: string): AddressVerdict {
  const embedded = embeddedV4(addr);
  if (embedded) {
    const inner = embedded.v4.toString();
    const problem = v4Problem(embedded.v4);
    if (problem !== undefined) return blocked(`${text} is ${embedded.form} of ${inner}, which is ${problem}`);
    // A public embedded address is fine where the form is a real way to reach it.
    if (embedded.usable) return ALLOWED;
    return blocked(`${text} is ${embedded.form} of ${inner} (deprecated; not global unicast)`);
  }
  const hit = V6_BLOCKED.find((r) => addr.match(r.range));
  if (hit) return blocked(`${text} is ${hit.label}`);
  if (!addr.match(GLOBAL_UNICAST_V6)) return blocked(`${text} is outside global unicast (2000::/3)`);
  const range = addr.range();
  if (range !== 'unicast') return blocked(`${text} is not global unicast (${range})`);
  return ALLOWED;
}

interface Embedded {
  v4: ipaddr.IPv4;
  /** Completes "<ip> is … of <v4>". */
  form: string;
  /** Whether the form really reaches a public embedded address (mapped, NAT64, 6to4). */
  usable: boolean;
}

/** The IPv4 address an IPv6 address stands for, if it is one of the embedding forms. */
function embeddedV4(addr: ipaddr.IPv6): Embedded | undefined {
  const p = addr.parts;
  const fromWords = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const low32 = () => fromWords(p[6] ?? 0, p[7] ?? 0);
  if (addr.match(MAPPED)) return { v4: low32(), form: 'the IPv4-mapped form', usable: true };
  if (addr.match(NAT64)) return { v4: low32(), form: 'a NAT64 form', usable: true };
  if (addr.match(SIX_TO_FOUR)) return { v4: fromWords(p[1] ?? 0, p[2] ?? 0), form: 'a 6to4 form', usable: true };
  if (addr.match(TRANSLATED)) return { v4: low32(), form: 'the IPv4-translated form', usable: false };
  // `::` and `::1` are in ::/96 too, but they are IPv6's own unspecified and loopback.
  if (addr.match(COMPATIBLE) && (p[6] ?? 0) !== 0) {
    return { v4: low32(), form: 'the IPv4-compatible form', usable: false };
  }
  return undefined;
}
