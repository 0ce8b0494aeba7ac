import type { Command } from 'commander';
import { reconcile } from '../../pipeline/reconcile.ts';
import { keyValues } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';
import { progress } from '../progress.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('reconcile')
    .description('rebuild Redis state (jobs, poll loops, budget) from PostgreSQL; --orphans also cancels/deletes provider leftovers')
    .option('--orphans', 'also cancel provider batches and delete files that no batch row owns')
    .option('--json', 'print one JSON document')
    .action(async (opts: { orphans?: boolean; json?: boolean }) => {
      const report = await withContext(io, async (ctx) => {
        const bar = progress(io, opts.orphans ? 'reconcile (with orphans)' : 'reconcile', 1);
        try {
          const r = await reconcile(ctx, { orphans: Boolean(opts.orphans) });
          bar.update(1);
          return r;
        } finally {
          bar.stop();
        }
      });
      if (opts.json) printJson(io, report);
      else print(io, keyValues(Object.entries(report)));
    });
}
