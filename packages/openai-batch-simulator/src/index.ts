/**
 * openai-batch-simulator: an HTTP server speaking the OpenAI Batch API's wire format (Files,
 * Batches, webhooks, and the chat completions, responses, embeddings, completions and moderations
 * endpoints) with wall-clock timestamps, accelerated durations, its own token counting from
 * OpenAI's published rules, and seeded, scenario-driven faults. See README.md.
 */
export { startSimulator, runSimulatorCli, type SimulatorHandle, type SimulatorOptions } from './simulator.ts';
export {
  loadScenario,
  ScenarioSchema,
  ScenarioError,
  NAMED_SCENARIOS,
  type Scenario,
  type ScenarioInput,
  type LineFaultName,
} from './scenarios.ts';
export { createSimClock, type SimClock } from './clock.ts';
export type { SimulatorStats, ClientStats } from './stats.ts';
export { signWebhook, webhookHeaders, WEBHOOK_USER_AGENT, type BatchWebhookEvent, type BatchEventType } from './webhooks.ts';
export { clientIdForKey, organizationForKey, projectForKey, type ProjectKeys } from './ids.ts';
export type { WireBatch, BatchStatus } from './batch-engine.ts';
export type { WireFile } from './file-store.ts';
export {
  createReferenceCounter,
  createCheapCounter,
  withDrift,
  encodingFor,
  textTokens,
  type TokenCounter,
  type ReferenceCounterOptions,
} from './tokens/reference-counter.ts';
export { imageTokens, imageRule, dataUrlImageSize, type ImageSize } from './tokens/images.ts';
export { cachedFor, MIN_CACHED_TOKENS, CACHE_STEP_TOKENS } from './prompt-cache.ts';
export { isReasoningModel } from './line-executor.ts';
