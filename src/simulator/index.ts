/**
 * The OpenAI Batch API simulator: an HTTP server speaking OpenAI's wire format (Files, Batches,
 * chat completions, embeddings, webhooks) with a simulated clock and seeded, scenario-driven
 * faults. See docs/simulator.md.
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
export { clientIdForKey, organizationForKey } from './ids.ts';
export type { WireBatch, BatchStatus } from './batch-engine.ts';
export type { WireFile } from './file-store.ts';
export type { TokenCounter } from './token-counter.ts';
