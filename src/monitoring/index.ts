/**
 * Monitoring: read models shared by the CLI, `/metrics` and alerts; the alert evaluator and
 * notifier; and the in-process provider-call metrics (`recordProviderCall`, `instrumentProvider`).
 */
export * from './stats.ts';
export * from '../store/read-models/index.ts';
export * from './alerts.ts';
export { POLL_OP, instrumentProvider, outcomeOf, processRegistry, recordProviderCall, type ProviderCallOutcome } from './provider-metrics.ts';
