import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { testConfig } from '../../src/config.js';
import { TaskhookError } from '../../src/errors.js';
import { createProgressParser, progressPercent, runFfmpeg, runFfprobe } from '../../src/media/ffmpeg.js';
import { getFixtures } from '../helpers/fixtures.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Alive and not a zombie (a killed orphan stays a zombie until PID 1 reaps it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('media/ffmpeg', () => {
  const config = testConfig();

  describe('createProgressParser', () => {
    it('yields one block per progress= line, across chunk boundaries', () => {
      const parse = createProgressParser();
      expect(parse('frame=10\nout_time_us=1500000\nspeed=2.0')).to.deep.equal([]);
      const blocks = parse('x\nprogress=continue\nout_time_us=3000000\nspeed=N/A\nprogress=end\n');
      expect(blocks).to.deep.equal([
        { outTimeS: 1.5, speed: '2.0x', end: false },
        { outTimeS: 3, speed: 'N/A', end: true },
      ]);
    });

    it('treats N/A and negative times as zero', () => {
      const parse = createProgressParser();
      expect(parse('out_time_us=N/A\nprogress=continue\n')[0]?.outTimeS).to.equal(0);
      expect(parse('out_time_us=-5\nprogress=continue\n')[0]?.outTimeS).to.equal(0);
    });
  });

  it('progressPercent stays within 0–99 until the task itself reports 100', () => {
    expect(progressPercent(1, 2)).to.equal(50);
    expect(progressPercent(5, 2)).to.equal(99);
    expect(progressPercent(1, 0)).to.equal(0);
    expect(progressPercent(0, 10)).to.equal(0);
  });

  it('runs ffmpeg and reports progress blocks ending with end=true', async () => {
    const blocks: boolean[] = [];
    await runFfmpeg(config, ['-f', 'lavfi', '-i', 'sine=duration=1', '-f', 'null', '-'], {
      signal: new AbortController().signal,
      anyInputFormat: true,
      onProgress: (p) => blocks.push(p.end),
    });
    expect(blocks.length).to.be.greaterThan(0);
    expect(blocks.at(-1)).to.equal(true);
  });

  it('kills the child on abort and settles only after it exited', async () => {
    const controller = new AbortController();
    let pid = 0;
    const started = Date.now();
    // -re makes this take 60 s of wall time unless it is killed.
    const run = runFfmpeg(config, ['-re', '-f', 'lavfi', '-i', 'sine=duration=60', '-f', 'null', '-'], {
      signal: controller.signal,
      anyInputFormat: true,
      onSpawn: (p) => (pid = p),
      onProgress: () => controller.abort(new TaskhookError('timeout', 'took too long')),
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TaskhookError);
    expect((err as TaskhookError).code).to.equal('timeout');
    expect(pid).to.be.greaterThan(0);
    expect(alive(pid), 'ffmpeg still running after the promise settled').to.equal(false);
    expect(Date.now() - started).to.be.lessThan(15_000);
  });

  it('ffmpeg dies with a worker that is SIGKILLed (no orphan re-parented to PID 1)', async function () {
    if (process.platform !== 'linux') this.skip();
    const script = fileURLToPath(new URL('./helpers/ffmpeg-child.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pid = 0;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const m = /FFMPEG_PID (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        parent.on('exit', () => reject(new Error(`the child node process exited early: ${out}`)));
      });
      expect(running(pid)).to.equal(true);
      parent.kill('SIGKILL');
      const deadline = Date.now() + 5000;
      while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(running(pid), 'ffmpeg outlived its SIGKILLed parent').to.equal(false);
    } finally {
      parent.kill('SIGKILL');
      if (pid > 0 && running(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const err = await runFfmpeg(config, ['-version'], { signal: controller.signal }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('gone');
  });

  it('reports a missing binary as dependency_missing with install advice', async () => {
    const err = await runFfprobe({ FFPROBE_PATH: '/nonexistent/ffprobe' }, ['-version'], new AbortController().signal).catch(
      (e: TaskhookError) => e,
    );
    expect(err).to.be.instanceOf(TaskhookError);
    expect((err as TaskhookError).code).to.equal('dependency_missing');
    expect((err as TaskhookError).message).to.match(/apt-get install ffmpeg/);
  });

  it('classifies an undecodable input as invalid_input, without local paths in the message', async () => {
    const fx = await getFixtures();
    const err = await runFfmpeg(config, ['-i', fx.corruptVideo, '-f', 'null', '-'], {
      signal: new AbortController().signal,
    }).catch((e: TaskhookError) => e);
    expect((err as TaskhookError).code).to.equal('invalid_input');
    expect((err as TaskhookError).message).to.not.include(fx.dir);
  });
});
