import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { estimateSavings, formatSavingsReport, loadPriceTable } from '../../pricing/index.ts';
import { CliError, configOf, print, printJson, type CliIO } from '../io.ts';

export function register(program: Command, io: CliIO): void {
  program
    .command('savings-estimate')
    .description('what past synchronous usage (JSONL: model + token counts per line) would have cost through the Batch API')
    .argument('<file>', 'JSONL file of usage records')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { json?: boolean }) => {
      await access(file).catch(() => {
        throw new CliError(`cannot read ${file}`);
      });
      const table = loadPriceTable(configOf(io).priceOverrides);
      const report = await estimateSavings(file, { table });
      if (opts.json) printJson(io, report);
      else print(io, formatSavingsReport(report));
    });
}
