/**
 * The retry policy: a pure function from a line's verdict, the item's history and the task's
 * limits to what happens next. No I/O, so every rule is unit-tested on its own.
 */
import type { Decision } from '../store/results.ts';
import type { PendingItem } from '../store/items.ts';
import type { TaskLimits } from '../tasks/contract.ts';
import type { LineVerdict } from './verdicts.ts';

/** A decision before usage and cost are attached. */
export type PolicyDecision = Omit<Decision, 'input_tokens' | 'cached_tokens' | 'output_tokens' | 'cost_usd' | 'sync_cost_usd'>;

/** Applies the task's retry policy to a line verdict. */
export function decide(verdict: LineVerdict, item: Pick<PendingItem, 'id' | 'attempts' | 'requeues' | 'maxOutputTokens'>, limits: TaskLimits): PolicyDecision {
  const base = { item_id: item.id, output: null, attempts_inc: 1, requeues_inc: 0, delay_ms: 0, max_output_tokens: item.maxOutputTokens };
  switch (verdict.kind) {
    case 'succeeded':
      return { ...base, outcome: 'succeeded', status: 'succeeded', error_code: null, error_message: null, output: verdict.output };
    case 'permanent':
      return { ...base, outcome: 'failed', status: 'failed', error_code: verdict.code, error_message: verdict.message };
    case 'retryable': {
      if (item.attempts + 1 >= limits.maxAttempts) {
        return { ...base, outcome: 'failed', status: 'failed', error_code: verdict.code, error_message: `gave up after ${item.attempts + 1} attempts: ${verdict.message}` };
      }
      const budget = item.maxOutputTokens ?? limits.maxOutputTokens ?? 1_024;
      return {
        ...base,
        outcome: 'retry',
        status: 'queued',
        error_code: verdict.code,
        error_message: verdict.message,
        delay_ms: limits.retryDelayMs * 2 ** item.attempts,
        max_output_tokens: verdict.truncated ? Math.min(limits.maxOutputTokensCeiling, Math.ceil(budget * limits.truncationGrowth)) : item.maxOutputTokens,
      };
    }
    case 'not_executed': {
      const exhausted = item.requeues + 1 > limits.maxRequeues;
      return {
        ...base,
        outcome: 'not_executed',
        status: exhausted ? 'failed' : 'queued',
        error_code: exhausted ? 'not_executed' : verdict.code,
        error_message: exhausted ? `never executed after ${item.requeues + 1} batches: ${verdict.message}` : verdict.message,
        attempts_inc: 0,
        requeues_inc: 1,
      };
    }
  }
}
