/**
 * The one undici Agent every outbound request goes through. Its connector
 * judges the address of every new connection at the moment it is made:
 *
 * - IP literals are judged before dialling (Node's `net.connect` skips
 *   `lookup` for them, so a checking lookup alone would miss them);
 * - names go through a checking `lookup` that resolves once, judges every
 *   address of the answer, and hands the socket only those addresses, so the
 *   socket dials exactly what was judged (no DNS-rebinding window).
 *
 * One connector per Agent, so keep-alive connections are reused as usual and
 * a reused connection costs no lookup at all. Redirects are never followed
 * (undici does not, and no redirect interceptor is composed here) and TLS is
 * always verified.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, buildConnector } from 'undici';
import { DestinationBlockedError } from '../errors.js';
import { isIpLiteral, stripBrackets } from './address.js';
import { judgeAddress, judgeResolved, systemLookup, type EgressPolicy, type LookupFn } from './policy.js';

export interface EgressAgentOptions {
  /** Resolver for hostnames. @default systemLookup (dns.lookup with `all: true`) */
  lookup?: LookupFn;
  /** Connections per origin. @default unlimited (undici's default) */
  connections?: number;
  /** How long an idle keep-alive connection is kept, ms. @default 4000 (undici's default) */
  keepAliveTimeout?: number;
}

/** The `lookup` signature `net.connect` calls (one address, or all of them with `all: true`). */
export type NetLookup = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** Builds the guarded Agent. Never pass it a redirect interceptor. */
export function createEgressAgent(policy: EgressPolicy, opts: EgressAgentOptions = {}): Agent {
  const base = buildConnector({
    lookup: createCheckedLookup(policy, opts.lookup ?? systemLookup),
    // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off.
    rejectUnauthorized: true,
  });
  const connect: buildConnector.connector = (options, callback) => {
    // Judged again here, not only at submit: a URL stored before
    // CALLBACK_ALLOW_HTTP was turned off must not go out in the clear.
    if (options.protocol === 'http:' && !policy.allowHttp) {
      callback(new DestinationBlockedError('http is not allowed (CALLBACK_ALLOW_HTTP=false); use https'), null);
      return;
    }
    const host = stripBrackets(options.hostname);
    if (isIpLiteral(host)) {
      const reason = judgeAddress(host, policy);
      if (reason !== undefined) {
        callback(new DestinationBlockedError(reason), null);
        return;
      }
    }
    base(options, callback);
  };
  return new Agent({
    connect,
    ...(opts.connections === undefined ? {} : { connections: opts.connections }),
    ...(opts.keepAliveTimeout === undefined ? {} : { keepAliveTimeout: opts.keepAliveTimeout }),
  });
}

/**
 * A `net.connect` lookup that resolves with `resolve`, refuses the whole
 * name if any address is blocked (see `judgeResolved`), and otherwise
 * answers with the judged addresses only, in the shape asked for
 * (`all: true` for happy eyeballs, or a single address).
 */
export function createCheckedLookup(policy: EgressPolicy, resolve: LookupFn): NetLookup {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (answers) => {
        const reason = judgeResolved(hostname, answers, policy);
        if (reason !== undefined) {
          callback(new DestinationBlockedError(reason), []);
          return;
        }
        const family = wantedFamily(options.family);
        const usable = family === 0 ? answers : answers.filter((a) => a.family === family);
        const first = usable[0];
        if (first === undefined) {
          callback(notFound(hostname), []);
        } else if (options.all === true) {
          callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: unknown) => callback(err instanceof Error ? err : notFound(hostname), []),
    );
  };
}

function wantedFamily(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}
