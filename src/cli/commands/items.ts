import type { Command } from 'commander';
import { usd, dateTime, table } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';
import { requireKnownTask } from '../lookup.ts';
import { oneOf, positiveInt } from '../parse.ts';
import { BATCH_STATUSES } from '../../store/batch-states.ts';
import { ITEM_STATUSES } from '../../store/item-states.ts';
import { listBatches, listItems } from '../../store/read-models/index.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('items')
    .description('list items, most recently changed first')
    .option('--task <task>', 'only this task')
    .option('--status <status>', `only this status (${ITEM_STATUSES.join(', ')})`, oneOf('--status', ITEM_STATUSES, 'item status'))
    .option('--reason <code>', 'only this error code (items.error_code), e.g. truncated')
    .option('--batch <id>', 'only items in this batch (our id or the provider batch id)')
    .option('--limit <n>', 'at most n items', positiveInt('--limit'), 50)
    .option('--json', 'print one JSON document')
    .action(async (opts: { task?: string; status?: string; reason?: string; batch?: string; limit: number; json?: boolean }) => {
      const items = await withContext(io, async (ctx) => {
        if (opts.task) await requireKnownTask(ctx, opts.task);
        return listItems(ctx.db, opts);
      });
      if (opts.json) return printJson(io, { count: items.length, limit: opts.limit, items });
      if (items.length === 0) return print(io, 'no items match');
      print(
        io,
        table(
          ['id', 'task', 'external id', 'status', 'attempts', 'requeues', 'error', 'cost', 'updated'],
          items.map((i) => [i.id, i.task, i.externalId, i.status, i.attempts, i.requeues, i.errorCode, usd(i.costUsd), dateTime(i.updatedAt)]),
        ),
      );
      if (items.length === opts.limit) print(io, `(first ${opts.limit}; use --limit for more)`);
    });

  program
    .command('batches')
    .description('list batches, newest first')
    .option('--task <task>', 'only this task')
    .option('--status <status>', `only this status (${BATCH_STATUSES.join(', ')})`, oneOf('--status', BATCH_STATUSES, 'batch status'))
    .option('--limit <n>', 'at most n batches', positiveInt('--limit'), 50)
    .option('--json', 'print one JSON document')
    .action(async (opts: { task?: string; status?: string; limit: number; json?: boolean }) => {
      const batches = await withContext(io, async (ctx) => {
        if (opts.task) await requireKnownTask(ctx, opts.task);
        return listBatches(ctx.db, opts);
      });
      if (opts.json) return printJson(io, { count: batches.length, limit: opts.limit, batches });
      if (batches.length === 0) return print(io, 'no batches match');
      print(
        io,
        table(
          ['id', 'task', 'status', 'provider id', 'requests', 'ok', 'failed', 'cost', 'created', 'note'],
          batches.map((b) => [
            b.id, b.task, b.status, b.providerBatchId, b.requestCount, b.completedCount, b.failedCount, usd(b.costUsd), dateTime(b.createdAt),
            b.heldReason ?? b.lastError ?? '',
          ]),
        ),
      );
      if (batches.length === opts.limit) print(io, `(first ${opts.limit}; use --limit for more)`);
    });
}
