/**
 * Task temp dirs (`taskhook-<task_id>-XXXXXX` in MEDIA_TMP_DIR, else the OS
 * temp dir) and the start-up sweep of those that dead processes left behind.
 *
 * The worker removes a task's temp dir when the task ends, but a process that
 * is SIGKILLed (OOM killer, `docker kill`) runs no cleanup, and a half-written
 * transcode can be gigabytes. Several worker processes may share one temp dir,
 * so the sweep needs to know whose a dir is: the base task marks each dir with
 * its owner (host name, pid, process start time) when it creates it.
 *
 * The rule, in order (a dir that matches none is kept):
 * 1. A dir whose newest entry is older than {@link ABANDONED_AFTER_MS} is
 *    removed whoever owns it: no task may run that long.
 * 2. A dir marked by this host is removed when its process is gone: the pid no
 *    longer exists, or it is this process's pid but an earlier process had it
 *    (the start time differs: pid reuse after a container restart).
 * Dirs marked by another host (containers sharing a volume each have their own
 * pids) and unmarked dirs (one that is just being created) wait for rule 1.
 */
import { mkdtemp, readdir, readFile, lstat, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';

/** The marker's file name inside a temp dir (dot name: no task output is ever called that). */
export const OWNER_FILE = '.taskhook-owner';

/**
 * A day (the longest `options.timeout_s` the API accepts) plus an hour: a dir
 * untouched for this long belongs to no running task.
 */
export const ABANDONED_AFTER_MS = 25 * 3_600_000;

/** `taskhook-` + task id (UUID) + `-` + mkdtemp's six characters; nothing else is touched. */
const TEMP_DIR_NAME = /^taskhook-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[A-Za-z0-9]{6}$/i;

export interface Owner {
  host: string;
  pid: number;
  /** Process start, ms since the epoch (performance.timeOrigin). */
  started: number;
}

/** This process as an owner. */
export function currentOwner(): Owner {
  return { host: hostname(), pid: process.pid, started: Math.round(performance.timeOrigin) };
}

/** Where task temp dirs live: MEDIA_TMP_DIR, else the OS temp dir. */
function tempRoot(config: Pick<Config, 'MEDIA_TMP_DIR'>): string {
  return path.resolve(config.MEDIA_TMP_DIR ?? tmpdir());
}

/**
 * A new temp dir for a task (what `ctx.tempDir()` gives), marked as this
 * process's so that a sweep after a crash can tell when it is dead.
 */
export async function createTaskTempDir(config: Pick<Config, 'MEDIA_TMP_DIR'>, taskId: string): Promise<string> {
  const dir = await mkdtemp(path.join(tempRoot(config), `taskhook-${taskId}-`));
  await writeFile(path.join(dir, OWNER_FILE), JSON.stringify(currentOwner()));
  return dir;
}

/** Removes the temp dirs of dead processes (see the rule above); returns how many. */
export async function sweepTempDirs(
  config: Pick<Config, 'MEDIA_TMP_DIR'>,
  now: number = Date.now(),
  self: Owner = currentOwner(),
): Promise<number> {
  const root = tempRoot(config);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  for (const name of names) {
    if (!TEMP_DIR_NAME.test(name)) continue;
    const dir = path.join(root, name);
    try {
      // lstat: a symlink named like a temp dir is not ours to follow.
      if (!(await lstat(dir)).isDirectory()) continue;
      if (!(await isDead(dir, now, self))) continue;
      await rm(dir, { recursive: true, force: true });
      removed += 1;
    } catch (err) {
      // Its task ended and removed it meanwhile.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

async function isDead(dir: string, now: number, self: Owner): Promise<boolean> {
  if ((await newestMtime(dir)) < now - ABANDONED_AFTER_MS) return true;
  const owner = await readOwner(dir);
  if (!owner || owner.host !== self.host) return false;
  if (owner.pid === self.pid) return owner.started !== self.started;
  return !processExists(owner.pid);
}

async function readOwner(dir: string): Promise<Owner | null> {
  try {
    const o = JSON.parse(await readFile(path.join(dir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    if (typeof o.host !== 'string' || !Number.isInteger(o.pid) || (o.pid ?? 0) <= 0 || typeof o.started !== 'number') return null;
    return o as Owner;
  } catch {
    // Missing (not marked yet, or not by media code) or half-written: only age decides.
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The directory's own mtime or its newest entry's, whichever is later. */
async function newestMtime(dir: string): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const name of await readdir(dir)) {
    const info = await lstat(path.join(dir, name)).catch(() => null);
    if (info && info.mtimeMs > newest) newest = info.mtimeMs;
  }
  return newest;
}
