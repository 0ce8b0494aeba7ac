import type { Command } from 'commander';
import { costReport, type CostGrouping, type CostReport } from '../../store/read-models/index.ts';
import { int, percent, table, usd } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';
import { oneOf, when } from '../parse.ts';

export function renderCost(r: CostReport): string {
  const rows = r.rows.map((x) => [x.key, x.attempts, int(x.inputTokens), int(x.cachedTokens), int(x.outputTokens), usd(x.costUsd), usd(x.syncCostUsd), usd(x.savingsUsd), percent(x.savingsPct)]);
  const t = r.total;
  rows.push(['TOTAL', t.attempts, int(t.inputTokens), int(t.cachedTokens), int(t.outputTokens), usd(t.costUsd), usd(t.syncCostUsd), usd(t.savingsUsd), percent(t.savingsPct)]);
  return [
    table([r.by, 'attempts', 'input', 'cached', 'output', 'batch cost', 'sync cost', 'savings', 'savings %'], rows),
    '',
    `prices: ${r.priceTableVersion}${r.since ? `; since ${r.since}` : ''}; cost at Batch prices as recorded per attempt`,
  ].join('\n');
}

export function register(program: Command, io: CliIO): void {
  program
    .command('cost')
    .description('spend at Batch prices vs the same work at synchronous prices, from per-attempt usage')
    .option('--by <grouping>', 'task, model or day (UTC)', oneOf('--by', ['task', 'model', 'day'] as const, 'grouping'), 'task')
    .option('--since <when>', 'from this date (2026-12-01, UTC), time, today, yesterday, or age (24h, 7d)', when('--since'))
    .option('--json', 'print one JSON document')
    .action(async (opts: { by: CostGrouping; since?: Date; json?: boolean }) => {
      const since = opts.since ?? null;
      const report = await withContext(io, (ctx) => costReport(ctx.db, { by: opts.by, since, priceTableVersion: ctx.prices.version }));
      if (opts.json) printJson(io, report);
      else print(io, renderCost(report));
    });
}
