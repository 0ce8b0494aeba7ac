/**
 * Deterministic fault decisions. Each decision is a pure function of the scenario seed and named
 * inputs, so a seed reproduces a run, and a retry re-rolls:
 * - per-line faults are keyed on (seed, custom_id, occurrence), where `occurrence` counts the
 *   client's earlier batches that carried the same custom_id, so a retried request in a NEW batch gets a
 *   fresh draw; the `http400` fault is keyed on the request body instead, so it is permanent for a
 *   given request (like a real context_length_exceeded);
 * - control-plane faults are keyed on a running request/object counter.
 */
import { applicableFaults, type LineFault } from './line-executor.ts';
import { canonicalJson, roll } from './random.ts';
import type { Scenario } from './scenarios.ts';

/** Faults drawn from one roll, stacked in this order. `http400` is drawn separately. */
const STACKED: Array<Exclude<LineFault, 'none' | 'http400'>> = [
  'http500',
  'invalidJson',
  'schemaViolation',
  'truncated',
  'refusal',
  'contentFilter',
];

/** Decide the fault of one batch line. */
export function decideLineFault(
  scenario: Scenario,
  input: { clientId: string; customId: string; occurrence: number; endpoint: string; body: Record<string, unknown> },
): LineFault {
  const rates = scenario.lineFaults;
  if (rates.http400 > 0 && roll(scenario.seed, 'line-http400', canonicalJson(input.body)) < rates.http400) return 'http400';
  if (!STACKED.some((name) => rates[name] > 0)) return 'none'; // nothing to draw: skip the roll (most scenarios)
  const applicable = applicableFaults(input.endpoint, input.body);
  const u = roll(scenario.seed, 'line', input.customId, input.occurrence);
  let acc = 0;
  for (const name of STACKED) {
    if (!applicable.has(name)) continue;
    acc += rates[name];
    if (u < acc) return name;
  }
  return 'none';
}

/** What happens to one API request before it reaches its handler. */
export type HttpFault = { kind: 'none' } | { kind: '429' | '500' | '503' } | { kind: 'slow'; ms: number };

/** Decide the control-plane fault of API request number `n`. */
export function decideHttpFault(scenario: Scenario, n: number): HttpFault {
  const f = scenario.httpFaults;
  const u = roll(scenario.seed, 'http', n);
  if (u < f.rate429) return { kind: '429' };
  if (u < f.rate429 + f.rate500) return { kind: '500' };
  if (u < f.rate429 + f.rate500 + f.rate503) return { kind: '503' };
  if (f.slowRate > 0 && roll(scenario.seed, 'http-slow', n) < f.slowRate) return { kind: 'slow', ms: f.slowMs };
  return { kind: 'none' };
}

/** Whether create number `n` loses its response after creating the object. */
export function decideLostCreate(scenario: Scenario, n: number): boolean {
  return scenario.httpFaults.lostCreateRate > 0 && roll(scenario.seed, 'lost-create', n) < scenario.httpFaults.lostCreateRate;
}

/** Per-object fault flags, drawn once when the object is created (n = creation counter). */
export function decideFileFaults(scenario: Scenario, n: number): { hiddenForSeconds: number } {
  const w = scenario.consistency.fileNotFoundAfterUpload;
  return { hiddenForSeconds: w.rate > 0 && roll(scenario.seed, 'file-404', n) < w.rate ? w.seconds : 0 };
}

/** Batch-level faults, drawn once at creation (n = batch creation counter). */
export interface BatchFaults {
  hiddenForSeconds: number;
  extraValidatingSeconds: number;
  extraFinalizingSeconds: number;
  /** When set, the batch runs so slowly that only this fraction is done when the window ends. */
  expireWithFraction: number | null;
}

/** Draw the batch-level faults of batch number `n`. */
export function decideBatchFaults(scenario: Scenario, n: number): BatchFaults {
  const c = scenario.consistency.batchNotFoundAfterCreate;
  const b = scenario.batchFaults;
  const s = scenario.seed;
  return {
    hiddenForSeconds: c.rate > 0 && roll(s, 'batch-404', n) < c.rate ? c.seconds : 0,
    extraValidatingSeconds: b.stuckValidating.rate > 0 && roll(s, 'stuck-validating', n) < b.stuckValidating.rate ? b.stuckValidating.seconds : 0,
    extraFinalizingSeconds: b.stuckFinalizing.rate > 0 && roll(s, 'stuck-finalizing', n) < b.stuckFinalizing.rate ? b.stuckFinalizing.seconds : 0,
    expireWithFraction: b.expire.rate > 0 && roll(s, 'expire', n) < b.expire.rate ? b.expire.completedFraction : null,
  };
}
