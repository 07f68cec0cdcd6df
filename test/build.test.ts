/**
 * `npm run build` (what the package ships and the benchmark runs) compiles,
 * copies the Lua scripts, and the compiled entry point works.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('build', function () {
  this.timeout(180_000);

  it('npm run build compiles src/ and tasks/, with the Lua scripts, and the package entry verifies a signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskhook-build-'));
    try {
      for (const entry of ['src', 'tasks', 'scripts']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
      for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(dir, file));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'pipe' });
      for (const f of ['dist/src/index.js', 'dist/src/bin/worker.js', 'dist/src/store/lua/finish.lua', 'dist/src/delivery/lua/lib/add-deliveries.lua', 'dist/tasks/index.js']) {
        expect(existsSync(join(dir, f)), f).to.equal(true);
      }
      const lib = (await import(pathToFileURL(join(dir, 'dist/src/index.js')).href)) as typeof import('../src/index.js');
      const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
      const body = '{"event":"task.completed"}';
      const headers = lib.createSigner(secret).headers('msg_1', Math.floor(Date.now() / 1000), body);
      expect(lib.verifyCallback(body, headers, secret).id).to.equal('msg_1');
      const cancelled = { event: 'task.cancelled', task_id: 't1', project_id: null, task_type: 'debug.sleep', status: 'cancelled', cancelled_at: new Date().toISOString(), metadata: {} };
      expect(lib.taskCancelledPayloadSchema.parse(cancelled)).to.deep.equal(cancelled);
      expect(lib.callbackPayloadSchema.safeParse({ ...cancelled, status: 'completed' }).success).to.equal(false);
      expect(() => lib.verifyCallback(`${body} `, headers, secret)).to.throw(lib.SignatureVerificationError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
