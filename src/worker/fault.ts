/**
 * The worker's fault path: what happens to a job when something threw where
 * nothing should, and how a job is put back in line when it must run again.
 */
import type { QueueName } from '../config.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseJob, pauseJob } from '../queue/job.js';
import { failureFromError } from '../delivery/payload.js';
import type { TakenJob, TaskFields, TaskStore } from '../store/task-store.js';
import type { Finisher } from './finisher.js';

/** How a job left this worker: its outcome, or why it has none here. */
export type JobResult = { outcome: string };

/**
 * What one job has reached so far, for the fault path: the task record once
 * `take.lua` has started it, and whether its outcome is written.
 */
export interface JobProgress {
  fields: TaskFields | null;
  settled: boolean;
}

export interface FaultDeps {
  finisher: Finisher;
  store: TaskStore;
  /** bee-queue's stall interval: the first pause of a job put back by a fault. */
  stallIntervalMs: number;
  logger: Logger;
}

/**
 * Puts a job back in line: what the write answered (false: the claim is no
 * longer this worker's, the job someone else's), or null when Redis refused.
 * The job then stays active and unguarded, bee-queue's stall check puts it
 * back, and the task, still `running`, counts its next run as a lost one.
 */
export async function putBack(write: () => Promise<boolean>, log: Logger): Promise<boolean | null> {
  try {
    return await write();
  } catch (err) {
    log.warn('could not put the job back; the stall check will', { err: coerceError(err).message });
    return null;
  }
}

/**
 * Something threw where nothing should (a handler result JSON cannot
 * encode, a schema with an async refinement, a Redis script error). The
 * task record would still say `running` with nothing left to run it. So:
 * settle the task as failed (`internal_error`) if it was started and not
 * yet settled; if even that cannot be written (Redis refuses writes, say),
 * put the job back after a pause (src/queue/job.ts: it doubles with each
 * fault, up to 5 minutes, so a sick Redis is not hammered). The record
 * stays `running`, so each re-run counts as a lost run: the handler runs at
 * most TASK_MAX_LOST more times and later runs only try to write the
 * `worker_lost` outcome, until Redis takes it. If the pause cannot be
 * written either, the job stays active and bee-queue's stall check puts it
 * back.
 */
export async function recoverFromFault(deps: FaultDeps, queue: QueueName, job: TakenJob, progress: JobProgress, err: Error): Promise<JobResult> {
  const log = deps.logger.child({ task_id: job.id, queue });
  if (progress.settled) {
    log.error('worker fault after the task was settled', { err: err.message, stack: err.stack });
    return { outcome: 'settled' };
  }
  if (progress.fields) {
    const error = { ...failureFromError(err), message: `The worker could not finish this task: ${err.message}`, error_type: 'internal_error' };
    try {
      await deps.finisher.finish(progress.fields, { status: 'failed', error }, log);
      log.error('task failed by a worker fault', { err: err.message, stack: err.stack });
      return { outcome: 'failed' };
    } catch (writeErr) {
      log.error('worker fault, and the failure could not be written either', { err: err.message, write_err: coerceError(writeErr).message });
    }
  } else {
    log.error('worker fault before the task started', { err: err.message, stack: err.stack });
  }
  const pause = pauseJob(parseJob(job.job), err.stack ?? err.message, deps.stallIntervalMs, Date.now());
  const claim = 'fields' in job.verdict ? (job.verdict.fields.claim ?? '') : '';
  const back = await putBack(() => deps.store.pauseJob(job.id, queue, claim, pause), log);
  return { outcome: back === null ? 'stalled' : back ? 'paused' : 'stale' };
}
