import type { Command } from 'commander';
import { RETRY_NEEDS_FILTER, retryFailedItems } from '../actions/retry.ts';
import { inline } from '../format.ts';
import { CliError, print, printJson, withContext, type CliIO } from '../io.ts';
import { collect } from '../parse.ts';
import { progress } from '../progress.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('retry')
    .description('re-drive permanently failed items: back to queued, attempts reset (history kept), then a build')
    .option('--item <id...>', 'these items (repeat or comma-separate)', collect)
    .option('--task <task>', 'failed items of this task')
    .option('--reason <code>', 'failed items with this error code (items.error_code)')
    .option('--all-failed', 'every failed item (narrowed by --task / --reason if given)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { item?: string[]; task?: string; reason?: string; allFailed?: boolean; json?: boolean }) => {
      if (!opts.item?.length && !opts.task && !opts.reason && !opts.allFailed) throw new CliError(RETRY_NEEDS_FILTER, 2);
      const result = await withContext(io, async (ctx) => {
        let bar: ReturnType<typeof progress> | undefined;
        try {
          return await retryFailedItems(ctx, { itemIds: opts.item, task: opts.task, reason: opts.reason, allFailed: opts.allFailed }, (done, total) => {
            if (!bar && total >= 1_000) bar = progress(io, 'retry', total);
            bar?.update(done, total);
          });
        } finally {
          bar?.stop();
        }
      });
      if (opts.json) return printJson(io, result);
      print(io, `re-queued ${result.retried} failed item${result.retried === 1 ? '' : 's'}${result.retried ? `: ${inline(result.byTask)}` : ''}`);
      for (const s of result.skipped) print(io, `  skipped ${s.id}: ${s.status ? `it is ${s.status}, not failed` : 'no such item'}`);
      if (result.unknownTasks.length) print(io, `  no build triggered for tasks this fleet does not know: ${result.unknownTasks.join(', ')}`);
      if (opts.item?.length && result.retried === 0) throw new CliError('nothing was re-queued: none of the given items is failed');
    });
}
