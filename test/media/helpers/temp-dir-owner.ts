/**
 * Run as a separate node process by test/media/temp-dir.test.ts: another
 * worker process on the same host. Makes a task temp dir in the directory
 * given as argv[2] the way the worker does (marked with its owner),
 * prints `DIR <path>` and idles until it is killed.
 */
import { randomUUID } from 'node:crypto';
import { createTaskTempDir } from '../../../src/media/temp-dir.js';

const root = process.argv[2] as string;
const dir = await createTaskTempDir({ MEDIA_TMP_DIR: root }, randomUUID());
process.stdout.write(`DIR ${dir}\n`);
setInterval(() => undefined, 1000);
