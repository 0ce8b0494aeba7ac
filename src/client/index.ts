/**
 * `batchfleet/client`: what a producer service imports. Light on purpose: no fleet, no simulator,
 * no tokenizer; BullMQ and ioredis load on first use. PostgreSQL is optional (lookups only).
 */
export {
  createClient,
  ProducerClient,
  type ClientOptions,
  type DeliveryInfo,
  type EnqueueItem,
  type FailedResult,
  type InputOf,
  type OnResultOptions,
  type OutputOf,
  type ResultBase,
  type ResultConsumer,
  type ResultHandle,
  type SucceededResult,
  type TaskResult,
  type TaskStatus,
  type WaitOptions,
} from './producer.ts';
export { ClientTaskError, EnqueueValidationError, ResultMessageError, ResultPayloadError, ResultTimeoutError } from './errors.ts';
export { findItem, type ItemAttempt, type ItemView } from './lookup.ts';
export type { AttemptRecord, ResultChunk, ResultMessage, ResultUsage } from '../queues/payloads.ts';
export type { HoldNotice } from '../queues/notices.ts';
export type { AnyTask, DeliveryOptions, ResultDelivery, TaskDefinition } from '../tasks/contract.ts';
