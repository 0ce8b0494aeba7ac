import type { Command } from 'commander';
import { budgetReport, type BudgetRow } from '../../monitoring/stats.ts';
import { duration, int, table } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';

export function renderBudget(rows: BudgetRow[]): string {
  return table(
    ['model', 'configured', 'learned', 'effective', 'reserved', 'used %', 'batches', 'held', 'oldest wait'],
    rows.map((r) => [
      r.model, int(r.configured), r.learned === null ? null : int(r.learned), int(r.effective), int(r.reservedTokens),
      `${(r.utilization * 100).toFixed(1)}%`, r.reservations, r.heldBatches, r.oldestWaitMs === null ? null : duration(r.oldestWaitMs),
    ]),
  );
}

export function register(program: Command, io: CliIO): void {
  program
    .command('budget')
    .description('per model: enqueued-token limit (configured, learned, effective), reserved tokens, held batches')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const models = await withContext(io, (ctx) => budgetReport(ctx));
      if (opts.json) printJson(io, { models });
      else print(io, models.length ? renderBudget(models) : 'no models');
    });
}
