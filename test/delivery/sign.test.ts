import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { createSigner, standardWebhooksKey } from '../../src/delivery/sign.js';
import { USER_AGENT, VERSION } from '../../src/version.js';
import pkg from '../../package.json' with { type: 'json' };

const VECTOR = {
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('delivery/sign', () => {
  it('matches the Standard Webhooks known-answer vector', () => {
    const h = createSigner(VECTOR.secret).headers(VECTOR.id, VECTOR.timestamp, VECTOR.body);
    expect(h['webhook-signature']).to.equal(VECTOR.signature);
    expect(h['webhook-id']).to.equal(VECTOR.id);
    expect(h['webhook-timestamp']).to.equal('1614265330');
  });

  it('sends content-type, user-agent and lower-case header names only', () => {
    const h = createSigner(VECTOR.secret).headers('msg_1', 1, '{}');
    expect(h['content-type']).to.equal('application/json');
    expect(h['user-agent']).to.equal(`taskhook/${pkg.version}`);
    expect(USER_AGENT).to.equal(`taskhook/${VERSION}`);
    expect(Object.keys(h).sort()).to.deep.equal([
      'content-type',
      'user-agent',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
      'x-webhook-signature',
    ]);
  });

  it('is accepted by the official standardwebhooks verifier', () => {
    const body = JSON.stringify({ event: 'task.completed', task_id: 't1', note: 'ünïcødé ✓' });
    const ts = Math.floor(Date.now() / 1000);
    const headers = createSigner(VECTOR.secret).headers('msg_abc', ts, body);
    expect(new Webhook(VECTOR.secret).verify(body, headers)).to.deep.equal(JSON.parse(body));
    // A different secret or a changed body must not verify.
    expect(() => new Webhook('whsec_' + Buffer.from('other').toString('base64')).verify(body, headers)).to.throw();
    expect(() => new Webhook(VECTOR.secret).verify(body.replace('t1', 't2'), headers)).to.throw();
  });

  it('X-Webhook-Signature is the hex HMAC of the raw body keyed by the secret string as configured', () => {
    const body = '{"event":"task.failed","error":"ü"}';
    for (const secret of [VECTOR.secret, 'plain-secret', 'pässwörd']) {
      const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex');
      expect(createSigner(secret).headers('m', 1, body)['x-webhook-signature']).to.equal(`sha256=${expected}`);
    }
  });

  it('a secret without whsec_ keys the Standard Webhooks signature with its raw bytes', () => {
    const secret = 'plain-secret';
    const ts = Math.floor(Date.now() / 1000);
    const headers = createSigner(secret).headers('msg_raw', ts, '{"a":1}');
    const expected = createHmac('sha256', 'plain-secret').update(`msg_raw.${ts}.{"a":1}`).digest('base64');
    expect(headers['webhook-signature']).to.equal(`v1,${expected}`);
    expect(new Webhook(secret, { format: 'raw' }).verify('{"a":1}', headers)).to.deep.equal({ a: 1 });
    expect(standardWebhooksKey(secret).toString()).to.equal(secret);
  });

  it('rotation: webhook-signature carries one v1 signature per secret, each verifiable', () => {
    const current = 'whsec_' + Buffer.from('new-secret-32-bytes-long-xxxxxxx').toString('base64');
    const previous = VECTOR.secret;
    const ts = Math.floor(Date.now() / 1000);
    const headers = createSigner(current, { previous }).headers('msg_rot', ts, '{}');
    const parts = headers['webhook-signature']!.split(' ');
    expect(parts).to.have.length(2);
    expect(parts.every((p) => p.startsWith('v1,'))).to.equal(true);
    expect(() => new Webhook(current).verify('{}', headers)).to.not.throw();
    expect(() => new Webhook(previous).verify('{}', headers)).to.not.throw();
    // The legacy header signs with the current secret only.
    const legacy = createHmac('sha256', current).update('{}').digest('hex');
    expect(headers['x-webhook-signature']).to.equal(`sha256=${legacy}`);
    // Without a previous secret: exactly one.
    expect(createSigner(current).headers('m', ts, '{}')['webhook-signature']!.split(' ')).to.have.length(1);
  });

  it('refuses an empty secret, a whsec_ secret that is not base64 and a fractional timestamp', () => {
    expect(() => createSigner('')).to.throw(TypeError);
    expect(() => createSigner('whsec_not base64!')).to.throw(TypeError, /base64/);
    // A dangling last character decodes to the same key as without it: a typo that would pass unnoticed.
    expect(() => createSigner('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwx')).to.throw(TypeError, /base64/);
    expect(() => createSigner('whsec_')).to.throw(TypeError);
    expect(() => createSigner(VECTOR.secret).headers('m', 1.5, '{}')).to.throw(TypeError);
  });
});
