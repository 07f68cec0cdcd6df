import { expect } from 'chai';
import { classifyAddress, isIpLiteral, parseAllowlist } from '../../src/egress/index.js';

function reason(ip: string): string {
  const v = classifyAddress(ip);
  if (v.allowed) expect.fail(`${ip} was allowed`);
  return v.reason;
}

describe('egress: classifyAddress', () => {
  it('allows global unicast IPv4 and IPv6', () => {
    for (const ip of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700::1', '2a00:1450:4001::200e', '[2606:4700::1]']) {
      expect(classifyAddress(ip), ip).to.deep.equal({ allowed: true });
    }
  });

  it('says what was blocked and why', () => {
    expect(reason('127.0.0.1')).to.equal('127.0.0.1 is loopback');
    expect(reason('10.0.0.5')).to.equal('10.0.0.5 is private (RFC 1918)');
    expect(reason('169.254.169.254')).to.equal('169.254.169.254 is a cloud metadata service address');
    expect(reason('::ffff:7f00:1')).to.equal('::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, which is loopback');
  });

  it('judges the IPv4 address embedded in mapped, NAT64 and 6to4 forms', () => {
    expect(classifyAddress('::ffff:8.8.8.8').allowed).to.equal(true);
    expect(classifyAddress('64:ff9b::808:808').allowed).to.equal(true);
    expect(classifyAddress('2002:808:808::1').allowed).to.equal(true);
    expect(reason('::ffff:192.168.0.1')).to.include('which is private');
    expect(reason('64:ff9b::7f00:1')).to.include('NAT64 form of 127.0.0.1, which is loopback');
    expect(reason('2002:c0a8:1::1')).to.include('6to4 form of 192.168.0.1, which is private');
  });

  it('refuses forms that are not global unicast even around a public IPv4', () => {
    expect(reason('::808:808')).to.include('IPv4-compatible form of 8.8.8.8');
    expect(reason('::ffff:0:808:808')).to.include('IPv4-translated form');
    expect(reason('64:ff9b:1::808:808')).to.include('local-use NAT64');
    expect(reason('2001:0:4136:e378:8000:63bf:3fff:fdd2')).to.include('Teredo');
    expect(reason('4000::1')).to.include('outside global unicast');
    expect(reason('::2')).to.include('outside global unicast');
    expect(reason('3fff::1')).to.include('documentation');
  });

  it('backstops special ranges not named explicitly with ipaddr.js range()', () => {
    expect(reason('192.88.99.1')).to.include('not global unicast (reserved)');
    expect(reason('192.175.48.1')).to.include('not global unicast (as112)');
    expect(reason('2001:2::1')).to.include('not global unicast (benchmarking)');
  });

  it('only accepts canonical text: legacy spellings and names are not addresses', () => {
    for (const raw of ['0x7f.1', '2130706433', '127.1', '0177.0.0.1', 'localhost', '', '1.2.3.4.5', '::g']) {
      expect(reason(raw), raw).to.include('is not an IP address');
      expect(isIpLiteral(raw), raw).to.equal(false);
    }
    expect(reason('fe80::1%eth0')).to.include('zone index');
    expect(isIpLiteral('[::1]')).to.equal(true);
    expect(isIpLiteral('127.0.0.1')).to.equal(true);
  });
});

describe('egress: parseAllowlist', () => {
  it('matches CIDRs, bare addresses and exact hostnames', () => {
    const list = parseAllowlist(['10.0.0.0/8', '192.168.1.7', '::1/128', 'Callback.Test', 'fd00::/8', '[::2]']);
    expect(list.allowsAddress('10.255.0.1')).to.equal(true);
    expect(list.allowsAddress('11.0.0.1')).to.equal(false);
    expect(list.allowsAddress('192.168.1.7')).to.equal(true);
    expect(list.allowsAddress('192.168.1.8')).to.equal(false);
    expect(list.allowsAddress('::1')).to.equal(true);
    expect(list.allowsAddress('[::1]')).to.equal(true);
    expect(list.allowsAddress('::2')).to.equal(true);
    expect(list.allowsAddress('::3')).to.equal(false);
    expect(list.allowsAddress('fd12::1')).to.equal(true);
    expect(list.allowsAddress('::ffff:10.1.1.1')).to.equal(true); // mapped is judged as its IPv4
    expect(list.allowsAddress('not-an-ip')).to.equal(false);
    expect(list.allowsHost('callback.test')).to.equal(true);
    expect(list.allowsHost('CALLBACK.TEST.')).to.equal(true);
    expect(list.allowsHost('a.callback.test')).to.equal(false);
    expect(list.allowsHost('callback.test.evil.com')).to.equal(false);
  });

  it('an empty list allows nothing', () => {
    const list = parseAllowlist([]);
    expect(list.allowsAddress('127.0.0.1')).to.equal(false);
    expect(list.allowsHost('localhost')).to.equal(false);
  });
});
