/**
 * Makes ffmpeg and ffprobe die with the worker process that started them.
 *
 * Aborts already kill the child, but a worker that is SIGKILLed (OOM killer,
 * `docker kill`, a second signal) runs no code: its ffmpeg is re-parented to
 * PID 1 and keeps burning CPU and writing into a temp dir until its input ends.
 * Linux can send a signal to a child when its parent dies (prctl
 * PR_SET_PDEATHSIG), but Node cannot call prctl, so children are started
 * through util-linux `setpriv --pdeathsig KILL --`, which sets it and then
 * execs the tool in place (same pid, so aborts still signal the tool itself).
 *
 * Where setpriv is missing or too old (macOS, images without util-linux) tools
 * run directly, as before; temp dirs are still swept at the next worker start
 * (see temp-dir.ts), only the orphaned child runs on until its input ends.
 */
import { spawn } from 'node:child_process';

const SETPRIV = 'setpriv';
const PREFIX = ['--pdeathsig', 'KILL', '--'] as const;
/** How long the one-off availability check may take. */
const CHECK_TIMEOUT_MS = 5000;

let available: Promise<boolean> | null = null;

/** Whether `setpriv --pdeathsig` works here; checked once per process, on first use. */
export function deathSignalAvailable(): Promise<boolean> {
  available ??= process.platform !== 'linux' ? Promise.resolve(false) : canRun(SETPRIV, [...PREFIX, 'true']);
  return available;
}

export interface Command {
  bin: string;
  args: string[];
  /** True when `bin` is setpriv wrapping the tool. */
  wrapped: boolean;
}

/** The command to spawn for `bin args`: wrapped in setpriv when it is available. */
export async function withDeathSignal(bin: string, args: readonly string[]): Promise<Command> {
  if (!(await deathSignalAvailable())) return { bin, args: [...args], wrapped: false };
  return { bin: SETPRIV, args: [...PREFIX, bin, ...args], wrapped: true };
}

/**
 * setpriv's own failure to exec the tool (exit 126/127 plus its message), as the
 * errno spawn would have given without the wrapper; null when the tool itself ran.
 */
export function wrapperExecError(code: number | null, stderr: string): NodeJS.ErrnoException | null {
  if (code !== 126 && code !== 127) return null;
  const m = /setpriv: failed to execute [^\n]*?: ([^\n]+)/.exec(stderr);
  if (!m) return null;
  const err: NodeJS.ErrnoException = new Error(m[1]);
  err.code = /No such file/i.test(m[1] ?? '') ? 'ENOENT' : 'EACCES';
  return err;
}

function canRun(bin: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: 'ignore', timeout: CHECK_TIMEOUT_MS });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}
