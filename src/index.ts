/** batchfleet's public API: what a producer, a task author or an embedding service imports. */
export { defineTask, parseJsonContent, OutputValidationError, DEFAULT_LIMITS } from './tasks/contract.ts';
export type { AnyTask, Endpoint, FailureContext, ProviderOutput, ResultContext, TaskDefinition, TaskLimits } from './tasks/contract.ts';
export { TaskRegistry, createRegistry } from './tasks/registry.ts';
export { classifyTicket, summarizeArticle, exampleRegistry } from './tasks/index.ts';
export { BatchfleetClient, findItem, type ItemView, type ItemAttempt } from './client/client.ts';
export { loadConfig, type Config } from './config.ts';
export { runWorkers, loadRegistry } from './runtime/main.ts';
export { createContext } from './runtime/context.ts';
export { startFleet, type Fleet } from './runtime/fleet.ts';
export { QUEUES, resultsQueueName } from './queues/names.ts';
export type { IntakePayload, IntakeOutcome, ResultAnnouncement } from './queues/payloads.ts';
export * from './errors.ts';
