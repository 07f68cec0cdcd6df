import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testConfig } from '../../src/config.js';
import { z } from 'zod';
import { silentLogger } from '../../src/logger.js';
import { ABANDONED_AFTER_MS, OWNER_FILE, createTaskTempDir, currentOwner, sweepTempDirs } from '../../src/media/temp-dir.js';
import { defineTask } from '../../src/tasks/define.js';
import { StopSwitch, runTask } from '../../src/worker/base-task.js';

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

describe('media/temp-dir', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-sweep-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** A task temp dir as the worker names it, with an optional owner marker and a file in it. */
  async function tempDir(owner?: object): Promise<string> {
    const dir = await mkdtemp(path.join(root, `taskhook-${randomUUID()}-`));
    await writeFile(path.join(dir, 'out.mp4'), 'half a transcode');
    if (owner) await writeFile(path.join(dir, OWNER_FILE), JSON.stringify(owner));
    return dir;
  }

  it("keeps a live worker process's dir on a shared temp dir, and removes it once that process is SIGKILLed", async () => {
    const script = fileURLToPath(new URL('./helpers/temp-dir-owner.ts', import.meta.url));
    const other = spawn(process.execPath, ['--import', 'tsx', script, root], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => other.once('exit', resolve));
    try {
      const dir = await new Promise<string>((resolve, reject) => {
        let out = '';
        other.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const m = /DIR (\S+)\n/.exec(out);
          if (m) resolve(m[1] as string);
        });
        other.once('exit', () => reject(new Error(`the other process exited early: ${out}`)));
      });
      expect(await sweepTempDirs({ MEDIA_TMP_DIR: root })).to.equal(0);
      expect(await exists(dir), 'a live process lost its temp dir').to.equal(true);
      other.kill('SIGKILL');
      await exited;
      expect(await sweepTempDirs({ MEDIA_TMP_DIR: root })).to.equal(1);
      expect(await exists(dir)).to.equal(false);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it("keeps this process's dirs and removes an earlier process's with the same pid (pid reuse)", async () => {
    const self = currentOwner();
    const mine = await createTaskTempDir({ MEDIA_TMP_DIR: root }, randomUUID());
    const reused = await tempDir({ ...self, started: self.started - 60_000 });
    expect(await sweepTempDirs({ MEDIA_TMP_DIR: root })).to.equal(1);
    expect(await exists(mine)).to.equal(true);
    expect(await exists(reused)).to.equal(false);
  });

  it('leaves unmarked dirs and other hosts\' dirs until nothing in them changed for ABANDONED_AFTER_MS', async () => {
    const unmarked = await tempDir();
    const foreign = await tempDir({ host: `not-${os.hostname()}`, pid: 999_999_999, started: 1 });
    const junk = await tempDir({ host: os.hostname(), pid: -1, started: 1 });
    expect(await sweepTempDirs({ MEDIA_TMP_DIR: root })).to.equal(0);
    const later = Date.now() + ABANDONED_AFTER_MS + 60_000;
    expect(await sweepTempDirs({ MEDIA_TMP_DIR: root }, later)).to.equal(3);
    for (const dir of [unmarked, foreign, junk]) expect(await exists(dir), dir).to.equal(false);
  });

  it('touches nothing but directories named like task temp dirs', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'taskhook-sweep-target-'));
    try {
      await mkdir(path.join(root, 'taskhook-test-abc123'));
      await mkdir(path.join(root, 'taskhook-not-a-uuid-abc123'));
      await writeFile(path.join(root, `taskhook-${randomUUID()}-abc123`), 'a file');
      await writeFile(path.join(outside, 'keep.txt'), 'keep');
      await symlink(outside, path.join(root, `taskhook-${randomUUID()}-link01`));
      const later = Date.now() + ABANDONED_AFTER_MS + 60_000;
      expect(await sweepTempDirs({ MEDIA_TMP_DIR: root }, later)).to.equal(0);
      expect(await readFile(path.join(outside, 'keep.txt'), 'utf8')).to.equal('keep');
      expect(await sweepTempDirs({ MEDIA_TMP_DIR: path.join(root, 'missing') })).to.equal(0);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("the base task marks every task's temp dir with this process, and removes it when the run ends", async () => {
    let seen: { dir: string; marker: unknown } | null = null;
    const def = defineTask({
      name: 'debug.tempdir',
      queue: 'debug',
      input: z.object({}),
      timeoutMs: 5000,
      handler: async (_input, ctx) => {
        const dir = await ctx.tempDir();
        seen = { dir, marker: readMarker(dir) };
        return {};
      },
    });
    const config = testConfig({ MEDIA_TMP_DIR: root });
    const run = await runTask({ def, input: {}, taskId: randomUUID(), attempt: 1, timeoutMs: 5000, logger: silentLogger(), config, dispatcher: undefined as never, stop: new StopSwitch(), onProgress: () => undefined });
    expect(run.kind).to.equal('success');
    if (!seen) throw new Error('the handler did not run');
    const { dir, marker } = seen;
    expect(path.dirname(dir)).to.equal(root);
    expect(marker).to.deep.equal(currentOwner());
    expect(await exists(dir)).to.equal(false);
  });
});

function readMarker(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
  } catch {
    return null;
  }
}
