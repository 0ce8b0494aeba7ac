/** batchfleet's public API: what a producer, a task author or an embedding service imports. */
export { defineTask, parseJsonContent, OutputValidationError, DEFAULT_LIMITS, DEFAULT_DELIVERY, resolveDelivery } from './tasks/contract.ts';
export type { AnyTask, DeliveryOptions, Endpoint, FailureContext, ProviderOutput, ResultContext, ResultDelivery, TaskDefinition, TaskLimits } from './tasks/contract.ts';
export { TaskRegistry, createRegistry } from './tasks/registry.ts';
export { classifyTicket, summarizeArticle, exampleRegistry } from './tasks/index.ts';
export { BatchfleetClient, findItem, type ItemView, type ItemAttempt } from './client/client.ts';
export { loadConfig, type Config } from './config.ts';
export { runWorkers, loadRegistry } from './runtime/main.ts';
export { createContext } from './runtime/context.ts';
export { startFleet, type Fleet } from './runtime/fleet.ts';
export { QUEUES, resultsQueueName } from './queues/names.ts';
export { resultChunkSchema, resultMessageSchema } from './queues/payloads.ts';
export type { IntakePayload, IntakeOutcome, ResultAnnouncement, ResultChunk, ResultMessage, AttemptRecord, ResultUsage } from './queues/payloads.ts';
export { resultJobs, resultMemoryBound, type CommittedResult, type ResultJob } from './queues/result-jobs.ts';
export { countResults, resultChunkId, resultIdempotenceKey, resultsInJob } from './queues/result-chunks.ts';
export { publishResults, trimWaiting } from './queues/result-publisher.ts';
export { clearHoldNotice, holdNoticeEntry, publishHoldNotice, type HoldNotice } from './queues/notices.ts';
export { createClient, type ProducerClient, type TaskResult } from './client/index.ts';
export * from './errors.ts';
