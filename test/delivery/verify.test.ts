import { expect } from 'chai';
import { SignatureVerificationError, TaskhookError } from '../../src/errors.js';
import { createSigner } from '../../src/delivery/sign.js';
import { verifyCallback } from '../../src/delivery/verify.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NOW = new Date('2024-05-01T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const BODY = '{"event":"task.completed","task_id":"t1","note":"ünï"}';

function signed(ts = NOW_S, secret = SECRET, body = BODY): Record<string, string> {
  return createSigner(secret).headers('msg_1', ts, body);
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(SignatureVerificationError);
    expect(err).to.be.instanceOf(TaskhookError);
    expect((err as SignatureVerificationError).code).to.equal('signature_invalid');
    expect((err as SignatureVerificationError).status).to.equal(401);
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail('expected a SignatureVerificationError');
}

describe('delivery/verify: verifyCallback', () => {
  it('accepts a signed callback (string or Buffer body, any header case, Fetch Headers)', () => {
    const headers = signed();
    const ok = verifyCallback(BODY, headers, SECRET, { now: NOW });
    expect(ok).to.deep.equal({ id: 'msg_1', timestamp: NOW_S });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyCallback(Buffer.from(BODY), upper, SECRET, { now: NOW }).id).to.equal('msg_1');
    expect(verifyCallback(BODY, new Headers(headers), SECRET, { now: NOW }).id).to.equal('msg_1');
    const { 'x-webhook-signature': _drop, ...standardOnly } = headers;
    expect(verifyCallback(BODY, standardOnly, SECRET, { now: NOW }).id).to.equal('msg_1');
  });

  it('refuses x-webhook-signature on its own: it has no timestamp, so a stripped request could be a replay', () => {
    const h = signed();
    rejects(() => verifyCallback(BODY, { 'x-webhook-signature': h['x-webhook-signature'] }, SECRET, { now: NOW }), /x-webhook-signature alone is not accepted/);
  });

  it('verifies with the previous secret during a rotation, although x-webhook-signature carries the new one only', () => {
    const next = 'whsec_' + Buffer.from('the-new-secret-after-rotation').toString('base64');
    const h = createSigner(next, { previous: SECRET }).headers('msg_1', NOW_S, BODY);
    expect(verifyCallback(BODY, h, SECRET, { now: NOW })).to.deep.equal({ id: 'msg_1', timestamp: NOW_S });
    expect(verifyCallback(BODY, h, next, { now: NOW })).to.deep.equal({ id: 'msg_1', timestamp: NOW_S });
    rejects(() => verifyCallback(BODY, h, 'whsec_' + Buffer.from('neither').toString('base64'), { now: NOW }), /does not match/);
  });

  it('accepts any one of several v1 signatures (rotation), also when the header is repeated', () => {
    const other = 'whsec_' + Buffer.from('another-secret').toString('base64');
    const h = createSigner(other, { previous: SECRET }).headers('msg_1', NOW_S, BODY);
    const { 'x-webhook-signature': _drop, ...standard } = h;
    expect(verifyCallback(BODY, standard, SECRET, { now: NOW }).id).to.equal('msg_1');
    const [a, b] = standard['webhook-signature']!.split(' ');
    const repeated = new Headers({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(NOW_S) });
    repeated.append('webhook-signature', a!);
    repeated.append('webhook-signature', b!);
    expect(verifyCallback(BODY, repeated, SECRET, { now: NOW }).id).to.equal('msg_1');
    expect(verifyCallback(BODY, { ...standard, 'webhook-signature': [a!, b!] }, SECRET, { now: NOW }).id).to.equal('msg_1');
  });

  it('rejects a request with no signature headers', () => {
    rejects(() => verifyCallback(BODY, { 'content-type': 'application/json' }, SECRET, { now: NOW }), /No signature headers/);
  });

  it('rejects incomplete Standard Webhooks headers', () => {
    const { 'webhook-id': _drop, ...h } = signed();
    rejects(() => verifyCallback(BODY, h, SECRET, { now: NOW }), /Incomplete Standard Webhooks headers/);
  });

  it('rejects a tampered body', () => {
    const tampered = BODY.replace('t1', 't2');
    rejects(() => verifyCallback(tampered, signed(), SECRET, { now: NOW }), /webhook-signature does not match/);
  });

  it('rejects the wrong secret', () => {
    const h = signed(NOW_S, 'whsec_' + Buffer.from('wrong').toString('base64'));
    rejects(() => verifyCallback(BODY, h, SECRET, { now: NOW }), /does not match/);
  });

  it('rejects a changed webhook-id or an unknown signature version', () => {
    rejects(() => verifyCallback(BODY, { ...signed(), 'webhook-id': 'msg_2' }, SECRET, { now: NOW }), /does not match/);
    const h = signed();
    const v2 = { ...h, 'webhook-signature': h['webhook-signature']!.replace('v1,', 'v2,') };
    rejects(() => verifyCallback(BODY, v2, SECRET, { now: NOW }), /no matching v1 signature/);
  });

  it('rejects a malformed timestamp', () => {
    rejects(() => verifyCallback(BODY, { ...signed(), 'webhook-timestamp': '12abc' }, SECRET, { now: NOW }), /whole seconds/);
  });

  it('rejects a timestamp too far in the past, and honours the tolerance', () => {
    const old = signed(NOW_S - 301);
    rejects(() => verifyCallback(BODY, old, SECRET, { now: NOW }), /too old: 301 s/);
    expect(verifyCallback(BODY, signed(NOW_S - 300), SECRET, { now: NOW }).timestamp).to.equal(NOW_S - 300);
    expect(verifyCallback(BODY, old, SECRET, { now: NOW, toleranceS: 600 }).timestamp).to.equal(NOW_S - 301);
    rejects(() => verifyCallback(BODY, signed(NOW_S - 11), SECRET, { now: NOW, toleranceS: 10 }), /too old/);
  });

  it('rejects a timestamp too far in the future (sender clock ahead)', () => {
    rejects(() => verifyCallback(BODY, signed(NOW_S + 301), SECRET, { now: NOW }), /too far in the future: 301 s/);
    expect(verifyCallback(BODY, signed(NOW_S + 300), SECRET, { now: NOW }).timestamp).to.equal(NOW_S + 300);
  });

  it('uses the real clock by default', () => {
    const ts = Math.floor(Date.now() / 1000);
    expect(verifyCallback(BODY, signed(ts), SECRET).timestamp).to.equal(ts);
    rejects(() => verifyCallback(BODY, signed(ts - 3600), SECRET), /too old/);
  });

  it('works with a plain (non-whsec_) secret', () => {
    const h = signed(NOW_S, 'plain-secret');
    expect(verifyCallback(BODY, h, 'plain-secret', { now: NOW }).id).to.equal('msg_1');
    rejects(() => verifyCallback(BODY, h, 'plain-secreT', { now: NOW }), /does not match/);
  });
});
