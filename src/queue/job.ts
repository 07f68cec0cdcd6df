/**
 * bee-queue's job JSON (`Job#toData`: `{ data, options, status, progress }`)
 * where the worker rewrites it: a task's own retry and a fault pause. Pure
 * functions of the job and the clock; the retry follows bee-queue's own
 * `Job#computeDelay` and failed-job path, so a job reads the same to
 * bee-queue whichever of them wrote it.
 */

export interface JobBackoff {
  strategy: string;
  delay?: number;
}

export interface JobOptions {
  timestamp?: number;
  stacktraces?: string[];
  retries?: number;
  backoff?: JobBackoff;
  delay?: number;
  /** taskhook's own: how many times a fault has paused this job (the pause doubles each time). */
  faults?: number;
}

export interface JobData {
  data: unknown;
  options: JobOptions;
  status?: string;
  progress?: number;
}

/** A rewritten job and when it may run again (epoch ms; now = at once). */
export interface JobAgain {
  data: string;
  at: number;
}

/** Stack traces a job keeps (bee-queue adds one per failure and never drops any). */
export const KEPT_STACKTRACES = 5;
/** The longest pause between two runs of a job the worker could not settle. */
export const MAX_FAULT_PAUSE_MS = 300_000;

/** The job JSON as bee-queue wrote it; a job that does not parse counts as one with default options. */
export function parseJob(json: string): JobData {
  try {
    const v = JSON.parse(json) as Partial<JobData> | null;
    if (v && typeof v === 'object' && v.options && typeof v.options === 'object') return { ...v, data: v.data ?? {}, options: v.options };
  } catch {
    // fall through
  }
  return { data: {}, options: {} };
}

function withStack(options: JobOptions, stack: string): string[] {
  return [stack, ...(options.stacktraces ?? [])].slice(0, KEPT_STACKTRACES);
}

/**
 * After a failed run with retries left: one retry fewer, the stack kept, and
 * the run delayed by the backoff (`exponential` doubles its delay each time,
 * `fixed` keeps it, none or `immediate` is at once). Null when no retries are
 * left.
 */
export function retryJob(job: JobData, stack: string, now: number): JobAgain | null {
  const o = job.options;
  const retries = o.retries ?? 0;
  if (retries <= 0) return null;
  let delay = 0;
  let backoff = o.backoff;
  if (backoff?.strategy === 'fixed' || backoff?.strategy === 'exponential') {
    delay = backoff.delay ?? 0;
    if (backoff.strategy === 'exponential') backoff = { ...backoff, delay: delay * 2 };
  }
  const options: JobOptions = { ...o, retries: retries - 1, stacktraces: withStack(o, stack), ...(backoff ? { backoff } : {}) };
  return { data: JSON.stringify({ ...job, options, status: 'retrying' }), at: now + delay };
}

/**
 * A job the worker could not settle (its outcome could not be written) runs
 * again after a pause that doubles with each fault, from `firstPauseMs` up to
 * MAX_FAULT_PAUSE_MS, so a sick Redis is not hammered. Its retries and
 * backoff are the task's own and stay as they are.
 */
export function pauseJob(job: JobData, stack: string, firstPauseMs: number, now: number): JobAgain {
  const faults = (job.options.faults ?? 0) + 1;
  const pause = Math.min(MAX_FAULT_PAUSE_MS, firstPauseMs * 2 ** (faults - 1));
  const options: JobOptions = { ...job.options, faults, stacktraces: withStack(job.options, stack) };
  return { data: JSON.stringify({ ...job, options, status: 'retrying' }), at: now + pause };
}
