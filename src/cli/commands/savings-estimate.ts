import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { estimateSavings, loadPriceTable, type SavingsReport } from '../../pricing/index.ts';
import { int, percent, table, usd } from '../format.ts';
import { configOf, print, printJson, type CliIO } from '../io.ts';
import { usage } from '../parse.ts';

const WHAT = 'give the path of a JSONL file of usage records (one {"model", "input_tokens", "output_tokens"} per line)';

/** Why `file` cannot be read, as a usage error naming it; `err` is the file system's error. */
function unreadable(file: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return usage(`no file ${file}; ${WHAT}`);
  if (err.code === 'EISDIR') return usage(`${file} is a directory; ${WHAT}`);
  if (err.code === 'EACCES' || err.code === 'EPERM') return usage(`cannot read ${file}: permission denied; check its permissions or ${WHAT}`);
  return usage(`cannot read ${file}: ${err.code ?? err.message}; ${WHAT}`);
}

export function renderSavings(r: SavingsReport): string {
  const figures = (label: string, m: SavingsReport['total']) => [
    label, m.requests, int(m.inputTokens), int(m.cachedTokens), int(m.outputTokens), usd(m.syncCostUsd), usd(m.batchCostUsd), usd(m.savingsUsd), percent(m.savingsPct),
  ];
  const out = [
    table(['model', 'requests', 'input', 'cached', 'output', 'sync cost', 'batch cost', 'savings', 'savings %'], [...r.byModel.map((m) => figures(m.model, m)), figures('TOTAL', r.total)]),
    '',
    `prices: ${r.priceTableVersion}; lines read: ${r.lines} (${r.blankLines} blank)`,
  ];
  if (r.unknownModels.length > 0) {
    out.push(`not costed (no price; add a price override): ${r.unknownModels.length} model(s)`);
    for (const u of r.unknownModels) {
      out.push(`  ${u.model}: ${u.requests} request(s), ${u.inputTokens + u.outputTokens} tokens, lines ${u.lines.join(', ')}${u.requests > u.lines.length ? ', …' : ''}`);
    }
  }
  if (r.badLines.count > 0) {
    out.push(`bad lines: ${r.badLines.count}`);
    for (const b of r.badLines.samples) out.push(`  line ${b.line}: ${b.reason}`);
    if (r.badLines.count > r.badLines.samples.length) out.push(`  … ${r.badLines.count - r.badLines.samples.length} more`);
  }
  return out.join('\n');
}

export function register(program: Command, io: CliIO): void {
  program
    .command('savings-estimate')
    .description('what past synchronous usage (JSONL: model + token counts per line) would have cost through the Batch API')
    .argument('<file>', 'JSONL file of usage records')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
        throw unreadable(file, err);
      });
      if (info.isDirectory()) throw unreadable(file, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
      const prices = loadPriceTable(configOf(io).priceOverrides);
      const report = await estimateSavings(file, { table: prices }).catch((err: NodeJS.ErrnoException) => {
        throw typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) ? unreadable(file, err) : err;
      });
      if (opts.json) printJson(io, report);
      else print(io, renderSavings(report));
    });
}
