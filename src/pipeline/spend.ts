import * as results from '../store/results.ts';
import type { PipelineContext } from './context.ts';

/** Today's spend (the UTC day of the injected clock) from recorded attempts, USD. */
export function spendToday(ctx: Pick<PipelineContext, 'db' | 'now'>): Promise<number> {
  return results.spendSince(ctx.db, results.startOfUtcDay(ctx.now()));
}
