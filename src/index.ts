/**
 * The library surface of the `taskhook` package: what receivers and task
 * authors import. The server itself is run with `npm start` / `npm run api` /
 * `npm run worker`.
 */
export { verifyCallback } from './delivery/verify.js';
export { createSigner, type Signer } from './delivery/sign.js';
export {
  callbackPayloadSchema,
  taskCompletedPayloadSchema,
  taskFailedPayloadSchema,
  taskCancelledPayloadSchema,
  type CallbackPayload,
  type TaskCompletedPayload,
  type TaskFailedPayload,
  type TaskCancelledPayload,
} from './delivery/payload.js';
export { defineTask, type TaskContext, type TaskDefinition, type TaskResult } from './tasks/define.js';
export * from './errors.js';
