import type { Command } from 'commander';
import { findBatch, findItem, type BatchDetail, type ItemView } from '../../store/read-models/index.ts';
import { dateTime, inline, int, keyValues, table, usd } from '../format.ts';
import { CliError, print, printJson, withContext, type CliIO } from '../io.ts';
import { requireKnownTask } from '../lookup.ts';
import { isUuid, usage } from '../parse.ts';

export type ShowResult = { kind: 'item'; item: ItemView } | { kind: 'batch'; batch: BatchDetail };

function renderItem(i: ItemView): string {
  const out = [
    keyValues([
      ['item', i.id],
      ['task', i.task],
      ['external id', i.externalId],
      ['status', i.status],
      ['attempts', i.attempts],
      ['requeues', i.requeues],
      ['error', i.errorCode ? `${i.errorCode}: ${i.errorMessage ?? ''}` : null],
      ['batch', i.batchId ? `${i.batchId} (${i.batchStatus ?? '?'})` : null],
      ['held', i.heldReason],
      ['cost', usd(i.costUsd)],
    ]),
  ];
  if (i.output !== null && i.output !== undefined) out.push('', 'output:', JSON.stringify(i.output, null, 2));
  out.push('', `history (${i.history.length} attempt${i.history.length === 1 ? '' : 's'}):`);
  if (i.history.length) {
    out.push(
      table(
        ['at', 'batch', 'outcome', 'error', 'in', 'out', 'cost', 'message'],
        i.history.map((h) => [dateTime(h.at), h.batchId, h.outcome, h.errorCode, h.inputTokens, h.outputTokens, usd(h.costUsd), h.errorMessage?.slice(0, 80) ?? '']),
      ),
    );
  }
  return out.join('\n');
}

function renderBatch(b: BatchDetail): string {
  const out = [
    keyValues([
      ['batch', b.id],
      ['task', b.task],
      ['model', `${b.model} ${b.endpoint}`],
      ['status', b.status + (b.providerStatus && b.providerStatus !== b.status ? ` (provider: ${b.providerStatus})` : '')],
      ['provider id', b.providerBatchId],
      ['earlier ids', b.previousProviderIds.length ? b.previousProviderIds.join(', ') : null],
      ['submission', b.submission],
      ['held', b.heldReason ? `${b.heldReason} (since ${dateTime(b.heldSince)})` : null],
      ['requests', `${b.requestCount} (completed ${b.completedCount}, failed ${b.failedCount})`],
      ['tokens', `estimated ${int(b.estimatedTokens)}; used in ${int(b.inputTokens)} (cached ${int(b.cachedTokens)}), out ${int(b.outputTokens)}`],
      ['cost', `${usd(b.costUsd)} (sync ${usd(b.syncCostUsd)}, saved ${usd(b.syncCostUsd - b.costUsd)})`],
      ['files', `in ${b.inputFileId ?? '-'}, out ${b.outputFileId ?? '-'}, errors ${b.errorFileId ?? '-'}`],
      ['created', b.createdAt],
      ['built', b.builtAt],
      ['submitted', b.submittedAt],
      ['expires', b.expiresAt],
      ['ended', b.terminalAt],
      ['processed', b.processedAt],
      ['status since', b.statusChangedAt],
      ['cancel asked', b.cancelRequestedAt],
      ['last error', b.lastError],
    ]),
    '',
    `items in it now: ${inline(b.itemsNow)}`,
    `attempts:        ${inline(b.attemptsByOutcome)}`,
  ];
  if (b.topErrors.length) out.push(`top errors:      ${b.topErrors.map((e) => `${e.code} ${e.count}`).join('  ')}`);
  const errors = Array.isArray(b.errors) ? (b.errors as Array<{ code?: string; message?: string }>) : [];
  if (errors.length) out.push('provider errors:', ...errors.slice(0, 10).map((e) => `  ${e.code ?? '?'}: ${e.message ?? ''}`));
  return out.join('\n');
}

export function register(program: Command, io: CliIO): void {
  program
    .command('show')
    .description('one item (with its attempt history) or one batch (with what happened to its items)')
    .argument('[id]', 'item id, batch id, or provider batch id (batch_…)')
    .option('--task <task>', 'with --external-id: the item of this task')
    .option('--external-id <id>', "the producer's id of the item")
    .option('--json', 'print one JSON document')
    .action(async (id: string | undefined, opts: { task?: string; externalId?: string; json?: boolean }) => {
      const result = await withContext(io, async (ctx): Promise<ShowResult> => {
        if (opts.externalId || (opts.task && !id)) {
          if (!opts.task || !opts.externalId) throw usage('--task and --external-id go together; use e.g. show --task classify-ticket --external-id order-42');
          await requireKnownTask(ctx, opts.task);
          const item = await findItem(ctx.db, { task: opts.task, externalId: opts.externalId });
          if (!item) throw new CliError(`no item with external id "${opts.externalId}" in task ${opts.task}; list them with \`batchfleet items --task ${opts.task}\``);
          return { kind: 'item', item };
        }
        if (!id) throw usage('show needs an id (item, batch or provider batch id), or --task and --external-id');
        if (isUuid(id)) {
          const item = await findItem(ctx.db, { id });
          if (item) return { kind: 'item', item };
        }
        const batch = await findBatch(ctx.db, id);
        if (batch) return { kind: 'batch', batch };
        throw new CliError(`no item or batch ${id}; list them with \`batchfleet items\` or \`batchfleet batches\``);
      });
      if (opts.json) return printJson(io, result);
      print(io, result.kind === 'item' ? renderItem(result.item) : renderBatch(result.batch));
    });
}
