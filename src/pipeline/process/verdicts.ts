import type { BatchRecord } from '../../store/batches.ts';
import type { PendingItem } from '../../store/items.ts';
import type { Decision } from '../../store/results.ts';
import type { AnyTask, TaskLimits } from '../../tasks/contract.ts';
import type { PipelineContext } from '../context.ts';
import { costOf, decisionRow, NO_COST } from '../record-results.ts';
import { decide, decideSuccess } from '../retry-policy.ts';
import { judgeLine, NO_USAGE, type LineVerdict } from '../verdicts.ts';

/** A decision per item from its own line: the task's validator, then the retry policy, then the cost. */
export function decideLines(
  ctx: Pick<PipelineContext, 'prices'>,
  batch: Pick<BatchRecord, 'model'>,
  task: AnyTask,
  limits: TaskLimits,
  items: readonly PendingItem[],
  lines: ReadonlyMap<string, Record<string, unknown>>,
): Decision[] {
  return items.map((item) => decisionFor(ctx, batch, limits, item, judgeLine(lines.get(item.id)!, task, item.input)));
}

/** The retry policy applied to one verdict, with its usage and cost. */
function decisionFor(
  ctx: Pick<PipelineContext, 'prices'>,
  batch: Pick<BatchRecord, 'model'>,
  limits: TaskLimits,
  item: PendingItem,
  verdict: LineVerdict,
): Decision {
  const usage = verdict.kind === 'not_executed' ? NO_USAGE : verdict.usage;
  return decisionRow(decide(verdict, item, limits), usage, costOf(ctx, batch.model, usage));
}

/**
 * Lines judged from themselves alone, for a task whose parser does not read inputs: a success is
 * decided at once (it needs nothing from its item), every other verdict waits for its item's
 * history (attempts, requeues, output budget), which `decideFromHistory` applies.
 */
export function judgeAlone(
  ctx: Pick<PipelineContext, 'prices'>,
  batch: Pick<BatchRecord, 'model'>,
  task: AnyTask,
  lines: ReadonlyMap<string, Record<string, unknown>>,
): { decided: Decision[]; waiting: Map<string, LineVerdict> } {
  const decided: Decision[] = [];
  const waiting = new Map<string, LineVerdict>();
  for (const [id, line] of lines) {
    const verdict = judgeLine(line, task, undefined);
    if (verdict.kind === 'succeeded') decided.push(decisionRow(decideSuccess(id, verdict.output), verdict.usage, costOf(ctx, batch.model, verdict.usage)));
    else waiting.set(id, verdict);
  }
  return { decided, waiting };
}

/** Decisions for verdicts that waited for their items (`judgeAlone`); `items` are those still pending. */
export function decideFromHistory(
  ctx: Pick<PipelineContext, 'prices'>,
  batch: Pick<BatchRecord, 'model'>,
  limits: TaskLimits,
  items: readonly PendingItem[],
  verdicts: ReadonlyMap<string, LineVerdict>,
): Decision[] {
  return items.map((item) => decisionFor(ctx, batch, limits, item, verdicts.get(item.id)!));
}

/** Why the items a batch never answered were not executed. */
export function notExecutedReason(batch: Pick<BatchRecord, 'status' | 'errors' | 'lastError'>): { code: string; message: string } {
  switch (batch.status) {
    case 'expired':
      return { code: 'batch_expired', message: 'the batch expired before this request ran' };
    case 'cancelled':
      return { code: 'batch_cancelled', message: 'the batch was cancelled before this request ran' };
    case 'failed': {
      const why = batch.errors?.[0]?.message ?? batch.lastError ?? 'the batch failed';
      return { code: 'batch_failed', message: `the batch failed before running: ${why}` };
    }
    default:
      return { code: 'missing_line', message: 'the batch ended without a result line for this request' };
  }
}

/** Decisions for items that no line answered: back to the queue without spending an attempt (bounded). */
export function decideUnanswered(batch: Pick<BatchRecord, 'status' | 'errors' | 'lastError'>, limits: TaskLimits, items: readonly PendingItem[]): Decision[] {
  const reason = notExecutedReason(batch);
  const verdict = { kind: 'not_executed', code: reason.code, message: reason.message } as const;
  return items.map((item) => decisionRow(decide(verdict, item, limits), NO_USAGE, NO_COST));
}
