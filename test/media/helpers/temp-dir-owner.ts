/**
 * Run as a separate node process by test/media/temp-dir.test.ts: another
 * worker process on the same host. Makes a task temp dir in the directory
 * given as argv[2] the way the worker does, marks it as media code does,
 * prints `DIR <path>` and idles until it is killed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { taskTempDir } from '../../../src/media/temp-dir.js';

const root = process.argv[2] as string;
const dir = await taskTempDir({ tempDir: () => mkdtemp(path.join(root, `taskhook-${randomUUID()}-`)) });
process.stdout.write(`DIR ${dir}\n`);
setInterval(() => undefined, 1000);
