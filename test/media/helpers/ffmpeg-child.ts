/**
 * Run as a separate node process by test/media/ffmpeg.test.ts: starts a
 * minute-long ffmpeg through runFfmpeg, prints `FFMPEG_PID <pid>` once ffmpeg
 * reports progress, then idles until it is killed.
 */
import { testConfig } from '../../../src/config.js';
import { runFfmpeg } from '../../../src/media/ffmpeg.js';

let announced = false;
void runFfmpeg(testConfig(), ['-re', '-f', 'lavfi', '-i', 'sine=duration=60', '-f', 'null', '-'], {
  signal: new AbortController().signal,
  anyInputFormat: true,
  onSpawn: (pid) => {
    process.env.FFMPEG_PID = String(pid);
  },
  onProgress: () => {
    // Progress means the tool itself runs (past any wrapper's exec).
    if (announced) return;
    announced = true;
    process.stdout.write(`FFMPEG_PID ${process.env.FFMPEG_PID ?? ''}\n`);
  },
}).catch(() => undefined);
setInterval(() => undefined, 1000);
