import type { Command } from 'commander';
import { failedItemCounts, failuresSince } from '../../store/read-models/index.ts';
import { table } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';
import { parseWhen } from '../parse.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('failures')
    .description('failed attempts by cause, task and model over a window, and the dead letter by cause')
    .option('--since <when>', 'window start: age (1h, 24h, 7d), date (2026-12-01, UTC), time, today or yesterday', '24h')
    .option('--json', 'print one JSON document')
    .action(async (opts: { since: string; json?: boolean }) => {
      const since = parseWhen(opts.since, '--since');
      const { window, dead } = await withContext(io, async (ctx) => ({ window: await failuresSince(ctx.db, since), dead: await failedItemCounts(ctx.db) }));
      const rates = [...window.attemptsByTask.entries()].map(([task, t]) => ({
        task, model: t.model, attempts: t.attempts, failures: t.failures, rate: t.attempts ? Number((t.failures / t.attempts).toFixed(4)) : 0,
      }));
      if (opts.json) return printJson(io, { since: since.toISOString(), byTask: rates, byCause: window.rows, deadLetter: dead });
      const out = [`since ${since.toISOString()}`, ''];
      out.push(rates.length ? table(['task', 'model', 'attempts', 'failures', 'rate'], rates.map((r) => [r.task, r.model, r.attempts, r.failures, `${(r.rate * 100).toFixed(1)}%`])) : 'no attempts in the window');
      if (window.rows.length) out.push('', table(['task', 'model', 'cause', 'failures', 'final'], window.rows.map((r) => [r.task, r.model, r.cause, r.failures, r.final])));
      out.push('', dead.length ? `dead letter (failed items, re-drive with \`batchfleet retry\`):\n${table(['task', 'cause', 'items'], dead.map((d) => [d.task, d.cause, d.count]))}` : 'dead letter: empty');
      print(io, out.join('\n'));
    });
}
