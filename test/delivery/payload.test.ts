import { expect } from 'chai';
import { InvalidInputError, TaskTimeoutError, WorkerLostError } from '../../src/errors.js';
import {
  callbackPayloadSchema,
  completedPayload,
  failedPayload,
  failureFromError,
  taskCompletedPayloadSchema,
  taskFailedPayloadSchema,
  type OutcomeTask,
} from '../../src/delivery/payload.js';

const task: OutcomeTask = {
  task_id: 'tsk_123',
  project_id: 'proj_9',
  task_type: 'image.resize',
  metadata: { order: 42, tags: ['a'] },
};
const at = new Date('2024-05-01T12:00:00.123Z');

describe('delivery/payload', () => {
  it('completedPayload: fields, values and key order', () => {
    const p = completedPayload(task, { url: 'http://x/y.png', width: 10 }, 1.23456, at);
    expect(Object.keys(p)).to.deep.equal([
      'event', 'task_id', 'project_id', 'task_type', 'status', 'result', 'processing_time', 'completed_at', 'metadata',
    ]);
    expect(p).to.deep.equal({
      event: 'task.completed',
      task_id: 'tsk_123',
      project_id: 'proj_9',
      task_type: 'image.resize',
      status: 'completed',
      result: { url: 'http://x/y.png', width: 10 },
      processing_time: 1.235,
      completed_at: '2024-05-01T12:00:00.123Z',
      metadata: { order: 42, tags: ['a'] },
    });
    expect(taskCompletedPayloadSchema.parse(JSON.parse(JSON.stringify(p)))).to.deep.equal(p);
    expect(callbackPayloadSchema.parse(p).event).to.equal('task.completed');
  });

  it('completedPayload keeps a null project_id', () => {
    const p = completedPayload({ ...task, project_id: null }, {}, 0, at);
    expect(p.project_id).to.equal(null);
    expect(JSON.stringify(p)).to.include('"project_id":null');
    expect(callbackPayloadSchema.safeParse(p).success).to.equal(true);
  });

  it('failedPayload with traceback: fields and key order', () => {
    const p = failedPayload(task, { message: 'boom', error_type: 'timeout', traceback: 'Error: boom\n  at x' }, at, true);
    expect(Object.keys(p)).to.deep.equal([
      'event', 'task_id', 'project_id', 'task_type', 'status', 'error', 'error_type', 'traceback', 'failed_at', 'metadata',
    ]);
    expect(p).to.include({ event: 'task.failed', status: 'failed', error: 'boom', error_type: 'timeout', failed_at: '2024-05-01T12:00:00.123Z' });
    expect(taskFailedPayloadSchema.parse(p)).to.deep.equal(p);
  });

  it('failedPayload without traceback leaves the key out entirely', () => {
    const p = failedPayload(task, { message: 'boom', error_type: 'worker_lost', traceback: 'secret stack' }, at, false);
    expect(p).to.not.have.property('traceback');
    expect(JSON.stringify(p)).to.not.include('traceback');
    expect(callbackPayloadSchema.parse(p).event).to.equal('task.failed');
    const unknownStack = failedPayload(task, { message: 'boom', error_type: 'error' }, at, true);
    expect(unknownStack).to.not.have.property('traceback');
  });

  it('failureFromError uses the stable code and the stack', () => {
    expect(failureFromError(new TaskTimeoutError(5000))).to.include({ error_type: 'timeout', message: 'Task timed out after 5000 ms.' });
    expect(failureFromError(new WorkerLostError(3)).error_type).to.equal('worker_lost');
    expect(failureFromError(new InvalidInputError('width must be > 0')).error_type).to.equal('invalid_input');
    const plain = new TypeError('x is not a function');
    const f = failureFromError(plain);
    expect(f).to.include({ error_type: 'error', message: 'x is not a function', traceback: plain.stack });
    const noStack = new Error('m');
    noStack.stack = undefined;
    expect(failureFromError(noStack)).to.deep.equal({ message: 'm', error_type: 'error' });
  });

  it('schemas reject wrong payloads', () => {
    const ok = completedPayload(task, {}, 1, at);
    expect(callbackPayloadSchema.safeParse({ ...ok, event: 'task.started' }).success).to.equal(false);
    expect(callbackPayloadSchema.safeParse({ ...ok, status: 'failed' }).success).to.equal(false);
    expect(callbackPayloadSchema.safeParse({ ...ok, completed_at: 'yesterday' }).success).to.equal(false);
    expect(callbackPayloadSchema.safeParse({ ...ok, result: 'x' }).success).to.equal(false);
    const failed = failedPayload(task, { message: 'm', error_type: 'timeout' }, at, true);
    const { error_type: _drop, ...missing } = failed;
    expect(callbackPayloadSchema.safeParse(missing).success).to.equal(false);
  });
});
