import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createSigner } from '../../src/delivery/sign.js';
import { completedPayload } from '../../src/delivery/payload.js';

const SERVER = fileURLToPath(new URL('../../examples/express-receiver/server.mjs', import.meta.url));

for (const secret of ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'a-plain-secret']) {
  describe(`examples/express-receiver (secret ${secret.startsWith('whsec_') ? 'whsec_' : 'plain'})`, function () {
    this.timeout(15_000);
    let child: ChildProcess;
    let stdout = '';
    let url = '';

    before(async () => {
      child = spawn(process.execPath, [SERVER], {
        env: { PATH: process.env.PATH ?? '', PORT: '0', WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr!.resume();
      const port = await new Promise<string>((resolve, reject) => {
        const onData = () => {
          const m = /listening on port (\d+)/.exec(stdout);
          if (m) resolve(m[1]!);
        };
        child.stdout!.on('data', onData);
        child.once('exit', (code) => reject(new Error(`receiver exited early with ${String(code)}`)));
      });
      url = `http://127.0.0.1:${port}/webhook`;
    });

    after(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    });

    const body = JSON.stringify(
      completedPayload(
        { task_id: 'tsk_example', project_id: null, task_type: 'debug.echo', metadata: {} },
        { ok: true },
        0.5,
        new Date(),
      ),
    );
    const post = (payload: string, headers: Record<string, string>) =>
      fetch(url, { method: 'POST', body: payload, headers });

    it('answers 204 to a signed callback and logs one line', async () => {
      const headers = createSigner(secret).headers('msg_example_1', Math.floor(Date.now() / 1000), body);
      const res = await post(body, headers);
      expect(res.status).to.equal(204);
      for (let i = 0; i < 40 && !stdout.includes('webhook-id=msg_example_1'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(stdout).to.include(
        'callback event=task.completed task_id=tsk_example status=completed webhook-id=msg_example_1\n',
      );
    });

    it('a retried delivery (same webhook-id) is acknowledged and marked duplicate', async () => {
      const headers = createSigner(secret).headers('msg_example_1', Math.floor(Date.now() / 1000), body);
      expect((await post(body, headers)).status).to.equal(204);
      for (let i = 0; i < 40 && !stdout.includes('duplicate=true'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(stdout).to.include('webhook-id=msg_example_1 duplicate=true');
    });

    it('a tampered body → 401', async () => {
      const headers = createSigner(secret).headers('msg_example_2', Math.floor(Date.now() / 1000), body);
      const res = await post(body.replace('tsk_example', 'tsk_evil'), headers);
      expect(res.status).to.equal(401);
      expect(stdout).to.not.include('msg_example_2');
    });

    it('still verifies while taskhook rotates to a new secret (signed under both; x-webhook-signature under the new one only)', async () => {
      const next = secret.startsWith('whsec_') ? `whsec_${Buffer.from('rotated secret for the example').toString('base64')}` : `${secret}-rotated`;
      const headers = createSigner(next, { previous: secret }).headers('msg_example_5', Math.floor(Date.now() / 1000), body);
      expect((await post(body, headers)).status).to.equal(204);
    });

    it('a stale timestamp → 401, and so is one too far ahead', async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const ts of [now - 301 - 5, now + 301 + 5]) {
        const headers = createSigner(secret).headers('msg_example_3', ts, body);
        const res = await post(body, headers);
        expect(res.status).to.equal(401);
        expect(((await res.json()) as { error: string }).error).to.include('webhook-timestamp');
      }
    });

    it('a missing signature header or a wrong secret → 401', async () => {
      const headers = createSigner(secret).headers('msg_example_4', Math.floor(Date.now() / 1000), body);
      const { 'webhook-timestamp': _drop, ...partial } = headers;
      expect((await post(body, partial)).status).to.equal(401);
      const wrong = createSigner(secret.startsWith('whsec_') ? `whsec_${Buffer.from('a different secret').toString('base64')}` : `${secret}x`).headers('msg_example_4', Math.floor(Date.now() / 1000), body);
      expect((await post(body, wrong)).status).to.equal(401);
      expect(stdout).to.not.include('msg_example_4');
    });
  });
}
