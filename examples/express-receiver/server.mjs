// A taskhook callback receiver in plain Express 4: copy it, change handleEvent().
//
//   WEBHOOK_SECRET=whsec_... PORT=4000 node examples/express-receiver/server.mjs
//
// It verifies the Standard Webhooks signature on the raw body, before parsing it:
// webhook-signature = v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>, keyed by the base64 after
// "whsec_" (or the secret's raw bytes when it has no "whsec_" prefix), with webhook-timestamp no more than
// 300 s away from our clock in either direction. During a secret rotation taskhook sends one signature per
// secret, so this receiver keeps working with either. (X-Webhook-Signature, the older scheme, covers no
// timestamp and only the newest secret; it is not needed.)
// A failed check answers 401; a verified callback answers 204.
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';

const PORT = Number(process.env.PORT ?? 4000);
const SECRET = process.env.WEBHOOK_SECRET ?? '';
const TOLERANCE_S = 300;

if (!SECRET) {
  console.error('WEBHOOK_SECRET is required (the same value taskhook is configured with).');
  process.exit(1);
}

const standardKey = SECRET.startsWith('whsec_')
  ? Buffer.from(SECRET.slice('whsec_'.length), 'base64')
  : Buffer.from(SECRET, 'utf8');

function safeEqual(a, b) {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Returns null when the request is authentic and fresh, otherwise the reason it is not. */
function verify(rawBody, headers) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) return 'missing signature headers';

  if (!/^\d+$/.test(timestamp)) return 'malformed webhook-timestamp';
  const skew = Math.floor(Date.now() / 1000) - Number(timestamp);
  if (Math.abs(skew) > TOLERANCE_S) return `webhook-timestamp outside tolerance (${skew} s)`;

  const expected = createHmac('sha256', standardKey)
    .update(`${id}.${timestamp}.`)
    .update(rawBody)
    .digest('base64');
  // Several space-separated signatures may be sent while a secret is rotated: any one may match.
  const ok = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .some((s) => safeEqual(s.slice(3), expected));
  return ok ? null : 'webhook-signature mismatch';
}

// Callbacks are delivered at least once: the same webhook-id may arrive again (e.g. our 204 was lost).
// Real receivers keep this in their database; an in-memory set is enough for the example.
const seen = new Set();
function firstTime(id) {
  if (seen.has(id)) return false;
  seen.add(id);
  if (seen.size > 10_000) seen.delete(seen.values().next().value);
  return true;
}

function handleEvent(event) {
  // Your code: event.event is "task.completed" (event.result) or "task.failed" (event.error, event.error_type).
  void event;
}

const app = express();

app.post('/webhook', express.raw({ type: 'application/json', limit: '1mb' }), (req, res) => {
  const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const problem = verify(rawBody, req.headers);
  if (problem) {
    console.warn(`rejected callback: ${problem}`);
    res.status(401).json({ error: problem });
    return;
  }
  let event;
  try {
    event = JSON.parse(rawBody.toString('utf8'));
  } catch {
    res.status(400).json({ error: 'body is not JSON' });
    return;
  }
  const id = req.headers['webhook-id'];
  const fresh = firstTime(id);
  console.log(
    `callback event=${event.event} task_id=${event.task_id} status=${event.status} webhook-id=${id}` +
      (fresh ? '' : ' duplicate=true'),
  );
  if (fresh) handleEvent(event);
  res.status(204).end();
});

const server = app.listen(PORT, () => {
  console.log(`taskhook receiver listening on port ${server.address().port}, POST /webhook`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
