/*
 * Counters every process keeps about its own work, served by its own metrics server
 * (src/monitoring/process-server.ts) and merged into the admin server's `/metrics`.
 * Label values come only from fixed sets or from the task registry, never from producer input.
 */
import { Counter } from 'prom-client';
import { processRegistry } from './provider-metrics.ts';

/** Jobs whose data in Redis was not JSON; they are failed at once with a reason. */
export const unparseableJobs = new Counter({
  name: 'batchfleet_jobs_unparseable_total',
  help: 'Jobs whose data in Redis was not JSON, failed without running, by queue.',
  labelNames: ['queue'] as const,
  registers: [processRegistry],
});

/** Jobs failed for good at once (UnrecoverableError: bad payload, unknown task, non-JSON data). */
export const rejectedJobs = new Counter({
  name: 'batchfleet_jobs_rejected_total',
  help: 'Jobs failed for good on their first attempt (bad payload, unknown task, non-JSON data), by queue.',
  labelNames: ['queue'] as const,
  registers: [processRegistry],
});

/** Input tokens this process estimated for stored items, by task and model. */
export const estimatedTokens = new Counter({
  name: 'batchfleet_estimated_input_tokens_total',
  help: 'Input tokens estimated by this process for items it stored at intake, by task and model.',
  labelNames: ['task', 'model'] as const,
  registers: [processRegistry],
});
