/**
 * The registry: every task this build knows, listed explicitly.
 * To add a task: write `tasks/<queue>/<action>.ts` with `defineTask`, add one
 * line here, and a test under `test/tasks/`.
 */
import { createRegistry } from '../src/tasks/registry.js';
import echo from './debug/echo.js';
import fail from './debug/fail.js';
import sleep from './debug/sleep.js';
import videoProbe from './video/probe.js';
import videoThumbnail from './video/thumbnail.js';
import videoTranscode from './video/transcode.js';
import imageResize from './image/resize.js';
import imageProbe from './image/probe.js';
import audioTranscode from './audio/transcode.js';
import audioWaveform from './audio/waveform.js';

export const registry = createRegistry([
  echo,
  fail,
  sleep,
  videoProbe,
  videoThumbnail,
  videoTranscode,
  imageResize,
  imageProbe,
  audioTranscode,
  audioWaveform,
]);
