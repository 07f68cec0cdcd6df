/** Independent checks of a received callback's signatures (the reference implementations). */
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import type { Received } from './receiver.js';

export const TEST_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export function expectValidSignatures(r: Received, secret = TEST_SECRET): void {
  const hex = createHmac('sha256', Buffer.from(secret, 'utf8')).update(r.body).digest('hex');
  expect(r.headers['x-webhook-signature']).to.equal(`sha256=${hex}`);
  // The official Standard Webhooks verifier (throws on a bad signature or stale timestamp).
  new Webhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}
