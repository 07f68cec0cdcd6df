import { expect } from 'chai';
import { parseConfig, testConfig } from '../../src/config.js';
import { ConfigError, DestinationBlockedError, ValidationError } from '../../src/errors.js';
import { checkUrl, egressPolicyFromConfig, parseAllowlist, type EgressPolicy } from '../../src/egress/index.js';
import { a4, a6, stubLookup } from './stub-lookup.js';

const policy = (allowlist: string[] = [], allowHttp = true): EgressPolicy => ({
  allowHttp,
  allowlist: parseAllowlist(allowlist),
});

const { lookup } = stubLookup({
  'internal.test': [a4('10.0.0.5')],
  localhost: [a4('127.0.0.1'), a6('::1')],
  'metadata.test': [a4('169.254.169.254')],
  'mixed.test': [a4('93.184.216.34'), a4('10.0.0.5')],
  'mixed6.test': [a6('2606:4700::1'), a6('fd00::1')],
  'mapped.test': [a6('::ffff:127.0.0.1')],
  '127.0.0.1.nip.io': [a4('127.0.0.1')],
  'example.com': [a4('93.184.216.34'), a6('2606:2800:220:1:248:1893:25c8:1946')],
  'callback.test': [a4('127.0.0.1')],
  'other.test': [a4('127.0.0.1')],
  'x.callback.test': [a4('127.0.0.1')],
  'evil.com': [a4('93.184.216.34')],
});

async function blockedReason(url: string, p: EgressPolicy = policy()): Promise<string> {
  try {
    await checkUrl(url, p, { lookup });
  } catch (err) {
    expect(err, url).to.be.instanceOf(DestinationBlockedError);
    expect((err as DestinationBlockedError).code).to.equal('destination_blocked');
    return String((err as DestinationBlockedError).extra.reason);
  }
  expect.fail(`${url} was not blocked`);
}

// [url, a fragment the reason must contain]
const BLOCKED: [string, string][] = [
  // Legacy IPv4 spellings: new URL() turns them into dotted quads, which are then judged.
  ['http://2130706433/', '127.0.0.1 is loopback'],
  ['http://0x7f.1/', '127.0.0.1 is loopback'],
  ['http://0177.0.0.1/', '127.0.0.1 is loopback'],
  ['http://127.1/', '127.0.0.1 is loopback'],
  ['http://0x7f000001/', '127.0.0.1 is loopback'],
  ['http://017700000001/', '127.0.0.1 is loopback'],
  ['http://127.0.0.1./', '127.0.0.1 is loopback'],
  ['http://127.0.0.1:8080/x', '127.0.0.1 is loopback'],
  ['https://127.0.0.1:443/?token=s3cr3t', '127.0.0.1 is loopback'],
  ['http://127.255.255.254/', 'loopback'],
  ['http://0.0.0.0/', '0.0.0.0 is in the "this network" range'],
  ['http://0/', '0.0.0.0 is in the "this network" range'],
  ['http://0.1.2.3/', 'this network'],
  // IPv6 literals
  ['http://[::1]/', '::1 is loopback'],
  ['http://[0:0:0:0:0:0:0:1]/', '::1 is loopback'],
  ['http://[::]/', ':: is unspecified'],
  ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped form of 127.0.0.1, which is loopback'],
  ['http://[::ffff:7f00:1]/', 'IPv4-mapped form of 127.0.0.1, which is loopback'],
  ['http://[0:0:0:0:0:ffff:127.0.0.1]/', 'IPv4-mapped form of 127.0.0.1'],
  ['http://[::ffff:10.0.0.1]/', 'IPv4-mapped form of 10.0.0.1, which is private'],
  ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped form of 169.254.169.254, which is a cloud metadata'],
  ['http://[::127.0.0.1]/', 'IPv4-compatible form of 127.0.0.1, which is loopback'],
  ['http://[64:ff9b::a9fe:a9fe]/', 'NAT64 form of 169.254.169.254, which is a cloud metadata'],
  ['http://[64:ff9b::10.0.0.1]/', 'NAT64 form of 10.0.0.1, which is private'],
  ['http://[2002:7f00:1::]/', '6to4 form of 127.0.0.1, which is loopback'],
  ['http://[2002:a9fe:a9fe::1]/', '6to4 form of 169.254.169.254'],
  ['http://[fe80::1]/', 'fe80::1 is link-local'],
  ['http://[febf:ffff::1]/', 'link-local'],
  ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is a cloud metadata'],
  ['http://[fc00::1]/', 'unique-local'],
  ['http://[fd12:3456::1]/', 'unique-local'],
  ['http://[ff02::1]/', 'multicast'],
  ['http://[2001:db8::1]/', 'documentation'],
  // Every IPv4 range of the contract
  ['http://10.0.0.1/', '10.0.0.1 is private (RFC 1918)'],
  ['http://172.16.0.1/', 'private'],
  ['http://172.31.255.255/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata service address'],
  ['http://169.254.1.1/', '169.254.1.1 is link-local'],
  ['http://168.63.129.16/', 'cloud metadata'],
  ['http://100.100.100.200/', 'cloud metadata'],
  ['http://100.64.0.1/', 'carrier-grade NAT'],
  ['http://100.127.255.254/', 'carrier-grade NAT'],
  ['http://198.18.0.1/', 'benchmarking'],
  ['http://198.19.255.1/', 'benchmarking'],
  ['http://240.0.0.1/', 'reserved'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://239.255.255.250/', 'multicast'],
  ['http://255.255.255.255/', 'broadcast'],
  ['http://192.0.2.1/', 'documentation'],
  ['http://198.51.100.7/', 'documentation'],
  ['http://203.0.113.9/', 'documentation'],
  // Userinfo tricks
  ['http://evil.com@127.0.0.1/', 'credentials'],
  ['http://user:pass@example.com/', 'credentials'],
  ['https://token@example.com/', 'credentials'],
  // Schemes
  ['ftp://example.com/', '"ftp:" is not allowed'],
  ['file:///etc/passwd', '"file:" is not allowed'],
  ['gopher://127.0.0.1:6379/_INFO', '"gopher:" is not allowed'],
  ['ws://example.com/', '"ws:" is not allowed'],
  ['data:text/plain,hi', '"data:" is not allowed'],
  // Names that resolve to blocked addresses (stub resolver)
  ['http://internal.test/', 'internal.test resolves to a blocked address: 10.0.0.5 is private'],
  ['http://localhost/', 'localhost resolves to a blocked address: 127.0.0.1 is loopback'],
  ['http://LOCALHOST./', 'resolves to a blocked address: 127.0.0.1 is loopback'],
  ['http://metadata.test/', 'cloud metadata'],
  ['http://127.0.0.1.nip.io/', 'loopback'],
  ['http://mapped.test/', 'IPv4-mapped form of 127.0.0.1'],
  // Multi-address answers with one blocked address: the whole name is refused.
  ['https://mixed.test/', 'mixed.test resolves to a blocked address: 10.0.0.5 is private'],
  ['https://mixed6.test/', 'unique-local'],
];

describe('egress: checkUrl (SSRF table, empty allowlist, http allowed)', () => {
  it('has at least 40 forms', () => {
    expect(BLOCKED.length).to.be.at.least(40);
  });

  for (const [url, fragment] of BLOCKED) {
    it(`blocks ${url}`, async () => {
      const reason = await blockedReason(url);
      expect(reason).to.include(fragment);
      // Reasons are shown and logged: never credentials or query strings.
      for (const secret of ['pass', 's3cr3t', 'token', 'user:', '/etc/passwd', 'meta-data']) {
        expect(reason).to.not.include(secret);
      }
    });
  }

  it('blocks http: when allowHttp is false, also for a public address', async () => {
    const reason = await blockedReason('http://example.com/', policy([], false));
    expect(reason).to.include('http is not allowed');
    expect(await blockedReason('http://93.184.216.34/', policy([], false))).to.include('http is not allowed');
    expect(await blockedReason('ftp://example.com/', policy([], false))).to.include('(only https)');
  });

  it('throws ValidationError (not destination_blocked) for a string that is not a URL', async () => {
    for (const bad of ['not a url', '/relative/path', 'http://', 'http://[::1/']) {
      const err = await checkUrl(bad, policy(), { lookup }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, bad).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).code).to.equal('validation_failed');
    }
  });
});

describe('egress: checkUrl (allowed)', () => {
  it('passes public literals and public names without connecting', async () => {
    const stub = stubLookup({ 'example.com': [a4('93.184.216.34')] });
    for (const url of [
      'https://93.184.216.34/',
      'http://93.184.216.34:8080/hook?x=1',
      'https://[2606:4700::1]/',
      'https://[::ffff:93.184.216.34]/',
      'https://[2002:5db8:d822::1]/', // 6to4 of 93.184.216.34
      'https://[64:ff9b::5db8:d822]/', // NAT64 of 93.184.216.34
      'https://example.com/cb',
    ]) {
      const parsed = await checkUrl(url, policy(), { lookup: stub.lookup });
      expect(parsed.href, url).to.equal(new URL(url).href);
    }
    expect(stub.calls.get('example.com')).to.equal(1);
  });

  it('lets a name that does not resolve (yet) pass: the connection is checked again', async () => {
    const url = await checkUrl('https://nowhere.test/', policy(), { lookup });
    expect(url.hostname).to.equal('nowhere.test');
  });

  it('an allowlisted address passes, and only that', async () => {
    const p = policy(['127.0.0.1']);
    expect((await checkUrl('http://127.0.0.1:9/', p, { lookup })).port).to.equal('9');
    expect((await checkUrl('http://2130706433/', p, { lookup })).hostname).to.equal('127.0.0.1');
    expect((await checkUrl('http://[::ffff:127.0.0.1]/', p, { lookup })).hostname).to.equal('[::ffff:7f00:1]');
    expect(await blockedReason('http://127.0.0.2/', p)).to.include('loopback');
    expect(await blockedReason('http://[::1]/', p)).to.include('loopback');
  });

  it('an allowlisted CIDR lifts the block for addresses inside it only', async () => {
    const p = policy(['10.0.0.0/8', '::1/128']);
    await checkUrl('http://10.1.2.3/', p, { lookup });
    await checkUrl('http://internal.test/', p, { lookup }); // → 10.0.0.5
    await checkUrl('http://[::1]:8080/', p, { lookup });
    expect(await blockedReason('http://192.168.0.1/', p)).to.include('private');
    expect(await blockedReason('http://127.0.0.1/', p)).to.include('loopback');
    expect(await blockedReason('http://169.254.169.254/', p)).to.include('metadata');
    // mixed.test is public + 10.0.0.5: now every address passes.
    await checkUrl('https://mixed.test/', p, { lookup });
    // localhost is 127.0.0.1 + ::1: one of them is still blocked.
    expect(await blockedReason('http://localhost/', p)).to.include('127.0.0.1 is loopback');
  });

  it('an allowlisted hostname passes whatever it resolves to, exactly that name', async () => {
    const p = policy(['callback.test']);
    await checkUrl('http://callback.test:8080/hook', p, { lookup });
    await checkUrl('http://CALLBACK.test./hook', p, { lookup });
    expect(await blockedReason('http://other.test/', p)).to.include('127.0.0.1 is loopback');
    expect(await blockedReason('http://x.callback.test/', p)).to.include('127.0.0.1 is loopback');
    expect(await blockedReason('http://127.0.0.1/', p)).to.include('loopback');
    // The allowlist never lifts the scheme or credential rules.
    expect(await blockedReason('http://u:p@callback.test/', p)).to.include('credentials');
    expect(await blockedReason('http://callback.test/', policy(['callback.test'], false))).to.include('http is not');
  });
});

describe('egress: egressPolicyFromConfig', () => {
  it('development defaults: http allowed, loopback and localhost allowlisted', async () => {
    const p = egressPolicyFromConfig(testConfig());
    expect(p.allowHttp).to.equal(true);
    await checkUrl('http://127.0.0.1:3000/', p, { lookup });
    await checkUrl('http://[::1]:3000/', p, { lookup });
    await checkUrl('http://localhost:3000/', p, { lookup });
    expect(await blockedReason('http://10.0.0.1/', p)).to.include('private');
  });

  it('production defaults: https only, empty allowlist', async () => {
    const config = parseConfig({
      NODE_ENV: 'production',
      API_KEYS: 'prod-key-123',
      WEBHOOK_SECRET: 'whsec_cHJvZC1zZWNyZXQ=',
    });
    const p = egressPolicyFromConfig(config);
    expect(p.allowHttp).to.equal(false);
    expect(p.allowlist.entries).to.deep.equal([]);
    expect(await blockedReason('https://127.0.0.1/', p)).to.include('loopback');
    expect(await blockedReason('https://localhost/', p)).to.include('loopback');
    expect(await blockedReason('http://example.com/', p)).to.include('http is not allowed');
  });

  it('fails fast on a malformed allowlist entry, naming every bad one', () => {
    let err: unknown;
    try {
      egressPolicyFromConfig(testConfig({ CALLBACK_ALLOWLIST: '10.0.0.0/33,127.1/8,*.example.com,ok.test,10.0.0.0/8' }));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const messages = (err as ConfigError).issues.map((i) => i.message).join('\n');
    expect(messages).to.include('"10.0.0.0/33"');
    expect(messages).to.include('"127.1/8"');
    expect(messages).to.include('"*.example.com"');
    expect(messages).to.not.include('ok.test');
    expect((err as ConfigError).issues.every((i) => i.field === 'CALLBACK_ALLOWLIST')).to.equal(true);
  });
});
