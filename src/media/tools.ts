/**
 * Start-up check: a worker that consumes a queue whose tasks need ffmpeg or
 * ffprobe refuses to start without them, with a message that says how to fix it,
 * instead of failing every media task later.
 */
import { spawn } from 'node:child_process';
import type { Config, QueueName } from '../config.js';
import { DependencyError } from '../errors.js';
import type { TaskRegistry } from '../tasks/registry.js';

export type MediaTool = 'ffmpeg' | 'ffprobe';

/** How long `<tool> -version` may take before the tool counts as broken. */
const VERSION_TIMEOUT_MS = 10_000;

/** Tools required by the registry's tasks on the given queues. Pure. */
export function requiredTools(registry: Pick<TaskRegistry, 'all'>, queues: readonly string[]): MediaTool[] {
  const needed = new Set<MediaTool>();
  for (const def of registry.all()) {
    if (!queues.includes(def.queue)) continue;
    for (const tool of def.requires ?? []) needed.add(tool);
  }
  return [...needed].sort();
}

/** Resolves to the first line of `<bin> -version`, or null when it cannot be run. */
export function toolVersion(bin: string): Promise<string | null> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(bin, ['-version'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: VERSION_TIMEOUT_MS,
      windowsHide: true,
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (out.length < 4096) out += chunk.toString('utf8');
    });
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code === 0 ? (out.split('\n')[0] ?? '').trim() : null));
  });
}

/**
 * Throws a DependencyError (`media_tools_missing`) when a consumed queue has a
 * task that requires ffmpeg/ffprobe and the binary (FFMPEG_PATH / FFPROBE_PATH,
 * else PATH) cannot be run.
 */
export async function checkMediaTools(
  config: Pick<Config, 'FFMPEG_PATH' | 'FFPROBE_PATH'>,
  registry: Pick<TaskRegistry, 'all'>,
  queues: readonly (QueueName | string)[],
): Promise<void> {
  const tools = requiredTools(registry, queues);
  const bins: Record<MediaTool, string> = { ffmpeg: config.FFMPEG_PATH, ffprobe: config.FFPROBE_PATH };
  const missing: string[] = [];
  for (const tool of tools) {
    if ((await toolVersion(bins[tool])) === null) missing.push(`${tool} ("${bins[tool]}")`);
  }
  if (missing.length === 0) return;
  throw new DependencyError(
    'media_tools_missing',
    `Cannot run ${missing.join(' and ')}, needed by tasks on the queues ${queues.join(', ')}. ` +
      'Install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg), ' +
      'or set FFMPEG_PATH and FFPROBE_PATH to the binaries, or leave the media queues out of WORKER_QUEUES.',
  );
}
