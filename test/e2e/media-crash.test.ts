/**
 * A worker process SIGKILLed in the middle of a transcode: its ffmpeg must not
 * live on (re-parented to PID 1), and the next worker to start on the host
 * removes the temp dir the dead one left behind.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { getFixtures } from '../helpers/fixtures.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { spawnWorker, startStack, waitForOutput, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);

/** Pids of live (non-zombie) ffmpeg processes whose command line mentions `marker`. */
function ffmpegWith(marker: string): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-f', `ffmpeg.*${marker}`]).toString();
  } catch {
    return [];
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return !/^\d+ \(.*\) Z/.test(execFileSync('cat', [`/proc/${pid}/stat`]).toString());
      } catch {
        return false;
      }
    });
}

describe('e2e: a media worker killed mid-task', function () {
  this.timeout(90_000);
  let redis: TestRedis;
  let stack: Stack;
  let root: string;
  const children: ChildProcess[] = [];

  before(function () {
    if (process.platform !== 'linux') this.skip();
  });
  beforeEach(async () => {
    redis = await startRedis();
    stack = await startStack({ redisUrl: redis.url, worker: false });
    root = await mkdtemp(path.join(os.tmpdir(), 'taskhook-media-crash-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    // When the test fails, the orphan it found is still running: end it.
    for (const pid of ffmpegWith(root)) process.kill(pid, 'SIGKILL');
    await stack.close();
    await redis.destroy();
    await rm(root, { recursive: true, force: true });
  });

  it('takes its ffmpeg with it, and the next worker sweeps its temp dir', async () => {
    const fx = await getFixtures();
    const input = path.join(root, 'in');
    const tmp = path.join(root, 'tmp');
    await run('mkdir', ['-p', input, tmp, path.join(root, 'out')]);
    // Long enough that VP9 is still encoding when the worker is killed.
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-stream_loop', '40', '-i', fx.video, '-c', 'copy', path.join(input, 'long.mp4')]);
    const env = {
      WORKER_QUEUES: 'video',
      STALL_INTERVAL_MS: '400',
      MEDIA_INPUT_DIR: input,
      MEDIA_OUTPUT_DIR: path.join(root, 'out'),
      MEDIA_TMP_DIR: tmp,
    };
    const w1 = spawnWorker(redis.url, env);
    children.push(w1);
    await waitForOutput(w1, 'worker ready');
    const res = await stack.post('/api/v1/tasks', { task_type: 'video.transcode', task_data: { input: 'long.mp4', format: 'webm' } });
    const id = String(res.json.task_id);
    await stack.waitForTask(id, (t) => t.status === 'running' && Number(t.progress) > 1, 30_000);
    const before = ffmpegWith(tmp);
    expect(before, 'ffmpeg transcoding').to.have.length(1);
    const [leftover] = (await readdir(tmp)).filter((n) => n.startsWith(`taskhook-${id}-`));
    expect(leftover, 'the task temp dir').to.be.a('string');

    w1.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (ffmpegWith(tmp).length > 0 && Date.now() < deadline) await sleep(100);
    expect(ffmpegWith(tmp), 'ffmpeg outlived its SIGKILLed worker').to.deep.equal([]);
    expect(await readdir(tmp)).to.include(leftover);

    const w2 = spawnWorker(redis.url, env);
    children.push(w2);
    await waitForOutput(w2, 'removed temp dirs left by dead worker processes');
    expect(await readdir(tmp)).to.not.include(leftover);
  });
});
