import type { Command } from 'commander';
import { cancelBatch, cancelItems } from '../actions/cancel.ts';
import { CliError, print, printJson, withContext, type CliIO } from '../io.ts';
import { collect } from '../parse.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('cancel')
    .description('cancel an open batch (its unfinished items are requeued), or queued items (--item) for good')
    .argument('[batchId]', 'our batch id or the provider batch id')
    .option('--item <id...>', 'cancel these queued items instead (repeat or comma-separate)', collect)
    .option('--json', 'print one JSON document')
    .action(async (batchId: string | undefined, opts: { item?: string[]; json?: boolean }) => {
      if (Boolean(batchId) === Boolean(opts.item?.length)) throw new CliError('cancel needs a batch id, or --item <id…> (not both)', 2);
      if (opts.item?.length) {
        const ids = opts.item;
        const result = await withContext(io, (ctx) => cancelItems(ctx, ids));
        if (opts.json) return printJson(io, result);
        print(io, `cancelled ${result.cancelled.length} item${result.cancelled.length === 1 ? '' : 's'}`);
        for (const s of result.skipped) print(io, `  skipped ${s.id}: ${s.status ? `it is ${s.status}; only queued items can be cancelled (cancel its batch instead)` : 'no such item'}`);
        if (result.cancelled.length === 0) throw new CliError('nothing was cancelled');
        return;
      }
      const result = await withContext(io, (ctx) => cancelBatch(ctx, batchId!));
      if (opts.json) return printJson(io, result);
      print(
        io,
        result.outcome === 'cancel_requested'
          ? `cancel requested for batch ${result.batchId} (${result.providerBatchId}); provider status now ${result.providerStatus}. Unfinished items are requeued when it ends.`
          : `batch ${result.batchId} was not submitted yet: cancelled here; its items go back to the queue.`,
      );
    });
}
