/**
 * Runs ffmpeg and ffprobe as child processes tied to the task's AbortSignal.
 *
 * On abort the child gets SIGTERM, then SIGKILL after a short grace; the
 * returned promise settles only once the child has exited, so a handler that
 * rejects never leaves an orphan behind. A worker killed outright cannot do
 * that, so on Linux the child also dies with it (death-signal.ts). ffmpeg's `-progress` key=value stream
 * is read from file descriptor 3, which keeps stdout free for piped output
 * (raw PCM for waveforms) and stderr free for diagnostics.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { DependencyError, InvalidInputError, TaskhookError, coerceError } from '../errors.js';
import type { Config } from '../config.js';
import { withDeathSignal, wrapperExecError } from './death-signal.js';
import { inputGuardArgs, refusalIn } from './formats.js';

/** How long a child may take to exit after SIGTERM before it gets SIGKILL. */
export const KILL_GRACE_MS = 1500;
/** Bytes of stderr kept for error messages. */
const STDERR_TAIL_BYTES = 8192;

export interface RunOptions {
  /** Aborting kills the child (SIGTERM, then SIGKILL after {@link KILL_GRACE_MS}). */
  signal: AbortSignal;
  /** Receives each stdout chunk; without it stdout is discarded. */
  onStdout?: (chunk: Buffer) => void;
  /** Receives each complete `key=value` block from fd 3 (ffmpeg `-progress pipe:3`). */
  onProgress?: (block: FfmpegProgress) => void;
  /** Called once the child is spawned (tests use it to check the process table). */
  onSpawn?: (pid: number) => void;
  /** Collect stdout and return it (ffprobe's JSON). @default false */
  collectStdout?: boolean;
  /**
   * Skip the input format guard (formats.ts) for every `-i`. Only for inputs the
   * code builds itself (a lavfi test source), never for anything a task was given.
   * @default false
   */
  anyInputFormat?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** One block of ffmpeg `-progress` output. */
export interface FfmpegProgress {
  /** Output time reached, seconds. */
  outTimeS: number;
  /** e.g. `1.53x`, or `N/A`. */
  speed: string;
  /** True on the final block (`progress=end`). */
  end: boolean;
}

/**
 * Splits ffmpeg's `-progress` output into blocks. Pure and incremental: feed
 * chunks, get the blocks completed so far; the tail is kept for the next call.
 */
export function createProgressParser(): (chunk: string) => FfmpegProgress[] {
  let buffer = '';
  let fields: Record<string, string> = {};
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    const out: FfmpegProgress[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      fields[key] = value;
      if (key !== 'progress') continue;
      // out_time_us and out_time_ms are both microseconds (a historic ffmpeg quirk).
      const us = Number(fields.out_time_us ?? fields.out_time_ms);
      out.push({
        outTimeS: Number.isFinite(us) && us > 0 ? us / 1e6 : 0,
        speed: (fields.speed ?? 'N/A').trim(),
        end: value === 'end',
      });
      fields = {};
    }
    return out;
  };
}

/** Turns an output time into 0–99 (100 is reported only when the task succeeds). */
export function progressPercent(outTimeS: number, totalS: number): number {
  if (!(totalS > 0) || !(outTimeS > 0)) return 0;
  return Math.max(0, Math.min(99, Math.floor((outTimeS / totalS) * 100)));
}

/**
 * Runs ffmpeg with `-progress pipe:3` added; rejects on a non-zero exit or abort.
 * Every `-i` gets the input format guard in front of it (unless `anyInputFormat`):
 * the guard lives here, where every input passes, not in each task.
 */
export function runFfmpeg(config: Pick<Config, 'FFMPEG_PATH'>, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const guarded = options.anyInputFormat ? [...args] : args.flatMap((a) => (a === '-i' ? [...inputGuardArgs(), a] : [a]));
  const full = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-progress', 'pipe:3', '-y', ...guarded];
  return runTool('ffmpeg', config.FFMPEG_PATH, full, options);
}

/** Runs ffprobe and returns its stdout. Its one input always gets the format guard. */
export function runFfprobe(config: Pick<Config, 'FFPROBE_PATH'>, args: readonly string[], signal: AbortSignal): Promise<RunResult> {
  return runTool('ffprobe', config.FFPROBE_PATH, ['-hide_banner', '-loglevel', 'error', ...inputGuardArgs(), ...args], {
    signal,
    collectStdout: true,
  });
}

async function runTool(tool: 'ffmpeg' | 'ffprobe', bin: string, args: string[], options: RunOptions): Promise<RunResult> {
  const { signal } = options;
  if (signal.aborted) throw abortReason(signal);
  // Wrapped so a SIGKILLed worker takes its children with it (death-signal.ts).
  const command = await withDeathSignal(bin, args);
  if (signal.aborted) throw abortReason(signal);
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command.bin, command.args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], windowsHide: true });
    const stdoutChunks: Buffer[] = [];
    let stderr = '';
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });

    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    // With four stdio entries Node types every pipe as nullable; all are pipes here.
    (child.stdout as Readable).on('data', (chunk: Buffer) => {
      if (options.onStdout) options.onStdout(chunk);
      else if (options.collectStdout) stdoutChunks.push(chunk);
    });
    (child.stderr as Readable).on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const progressStream = child.stdio[3] as Readable | null;
    if (progressStream) {
      const parse = createProgressParser();
      progressStream.on('data', (chunk: Buffer) => {
        if (!options.onProgress) return;
        for (const block of parse(chunk.toString('utf8'))) options.onProgress(block);
      });
      progressStream.on('error', () => undefined);
    }
    child.on('error', (err) => {
      spawnError = err;
    });
    // 'close' (not 'exit') waits for the pipes too, so every chunk has been seen.
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (signal.aborted) return reject(abortReason(signal));
      if (spawnError) return reject(spawnFailure(tool, bin, spawnError));
      const execError = command.wrapped ? wrapperExecError(code, stderr) : null;
      if (execError) return reject(spawnFailure(tool, bin, execError));
      if (code === 0) return resolve({ stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderr });
      reject(toolFailure(tool, code, sig, stderr));
    });
  });
}

/** The abort reason as an Error (the worker aborts with a TaskTimeoutError or a shutdown error). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason === undefined ? new Error('Task aborted') : coerceError(reason);
}

function spawnFailure(tool: string, bin: string, err: Error): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new DependencyError(
      'dependency_missing',
      `${tool} was not found at "${bin}". Install it (apt-get install ffmpeg, brew install ffmpeg) ` +
        `or set ${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'}.`,
      err,
    );
  }
  return err;
}

/** Messages ffmpeg prints when the input, not the tool, is at fault. */
const INPUT_FAULTS = [
  /Invalid data found when processing input/i,
  /moov atom not found/i,
  /could not find codec parameters/i,
  /does not contain any stream/i,
  /Output file #0 does not contain any stream/i,
  /matches no streams/i,
  /Error while decoding stream/i,
  /End of file/i,
];

function toolFailure(tool: string, code: number | null, sig: NodeJS.Signals | null, stderr: string): TaskhookError {
  const refused = refusalIn(stderr);
  if (refused) return refused;
  const detail = lastLines(stderr, 3) || (sig ? `killed by ${sig}` : `exit code ${String(code)}`);
  if (INPUT_FAULTS.some((re) => re.test(stderr))) {
    return new InvalidInputError(`The input could not be decoded (${tool}: ${detail}).`);
  }
  return new TaskhookError(`${tool}_failed`, `${tool} failed: ${detail}`, { retryable: false });
}

function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join(' | ')
    // Local paths (temp dirs, the input directory) are nobody's business in a task's error.
    .replace(/\/(?:[^\s/:'"]+\/)+([^\s/:'"]+)/g, '$1')
    .slice(0, 500);
}
