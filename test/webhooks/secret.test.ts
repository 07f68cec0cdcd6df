import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { generateSecret } from '../../src/webhooks/secret.js';
import { headerNameProblem } from '../../src/webhooks/schemas.js';
import { createSigner } from '../../src/delivery/sign.js';

describe('webhooks: secrets and header names', () => {
  it('generates distinct whsec_ secrets of 32 random bytes that the reference verifier accepts', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(a).not.to.equal(b);
    expect(Buffer.from(a.slice(6), 'base64')).to.have.length(32);
    const body = '{"type":"webhook.test"}';
    const ts = Math.floor(Date.now() / 1000);
    const h = createSigner(a).headers('msg_1', ts, body);
    expect(() => new Webhook(a).verify(body, h)).not.to.throw();
    expect(() => new Webhook(b).verify(body, h)).to.throw();
  });

  it('refuses reserved and malformed header names, case-insensitively', () => {
    for (const ok of ['X-Team', 'Authorization', 'x-api-key']) expect(headerNameProblem(ok), ok).to.equal(undefined);
    for (const bad of ['Webhook-Id', 'WEBHOOK-SIGNATURE', 'X-Webhook-Signature', 'Content-Type', 'content-length', 'HOST', 'User-Agent', 'Transfer-Encoding']) {
      expect(headerNameProblem(bad), bad).to.match(/may not be overridden/);
    }
    for (const bad of ['', 'a b', 'x:y', 'é']) expect(headerNameProblem(bad), bad).to.equal('not a valid header name');
  });
});
