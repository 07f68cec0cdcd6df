import { expect } from 'chai';
import { tenantOf } from '../../src/api/auth.js';
import { KEY_A, KEY_B, call, expectProblem, sha256hex, startApi, type Harness } from './harness.js';

describe('api: authentication', () => {
  let h: Harness;
  before(async () => {
    h = await startApi();
  });
  after(async () => {
    await h.close();
  });

  const submit = { task_type: 'debug.echo' };

  it('missing, unknown and malformed keys get one identical 401 with WWW-Authenticate', async () => {
    const attempts = [
      await call(h, 'POST', '/api/v1/tasks', { key: null, body: submit }),
      await call(h, 'POST', '/api/v1/tasks', { key: 'not-a-key', body: submit }),
      await call(h, 'POST', '/api/v1/tasks', { key: null, headers: { authorization: `Basic ${KEY_A}` }, body: submit }),
      await call(h, 'POST', '/api/v1/tasks', { key: null, headers: { authorization: 'Bearer' }, body: submit }),
      await call(h, 'POST', '/api/v1/tasks', { key: null, headers: { authorization: `Bearer ${KEY_A}x` }, body: submit }),
      // The digest itself is not a key.
      await call(h, 'GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000', { key: sha256hex(KEY_B) }),
      await call(h, 'GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000', { key: 'x'.repeat(5000) }),
    ];
    const first = expectProblem(attempts[0] as never, 401);
    expect(first.code).to.equal('unauthorized');
    for (const r of attempts) {
      expect(expectProblem(r, 401)).to.deep.equal(first);
      expect(r.text).to.equal(attempts[0]?.text);
      expect(r.headers['www-authenticate']).to.equal('Bearer realm="taskhook"');
    }
    expect(await h.client.keys(`${h.keys.prefix}:task:*`)).to.deep.equal([]);
  });

  it('accepts X-API-Key and Authorization: Bearer, for plain and sha256: keys, each its own tenant', async () => {
    const viaHeader = await call(h, 'POST', '/api/v1/tasks', { body: submit });
    const viaBearer = await call(h, 'POST', '/api/v1/tasks', { key: null, headers: { authorization: `Bearer ${KEY_A}` }, body: submit });
    const hashed = await call(h, 'POST', '/api/v1/tasks', { key: KEY_B, body: submit });
    const hashedBearer = await call(h, 'POST', '/api/v1/tasks', { key: null, headers: { authorization: `bearer ${KEY_B}` }, body: submit });
    for (const r of [viaHeader, viaBearer, hashed, hashedBearer]) expect(r.status, r.text).to.equal(202);
    const tenant = (r: { json: Record<string, unknown> }) => h.client.hget(h.keys.task(r.json.task_id as string), 'tenant');
    expect(await tenant(viaHeader)).to.equal(tenantOf(KEY_A)).and.to.equal(sha256hex(KEY_A).slice(0, 16));
    expect(await tenant(viaBearer)).to.equal(tenantOf(KEY_A));
    expect(await tenant(hashed)).to.equal(tenantOf(KEY_B));
    expect(await tenant(hashedBearer)).to.equal(tenantOf(KEY_B));
    expect(tenantOf(KEY_A)).to.not.equal(tenantOf(KEY_B));
  });

  it('/healthz and /readyz need no key', async () => {
    expect((await call(h, 'GET', '/healthz', { key: null })).status).to.equal(200);
    expect((await call(h, 'GET', '/readyz', { key: null })).status).to.equal(200);
  });
});
