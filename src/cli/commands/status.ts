import type { Command } from 'commander';
import { queueCounts, JOB_STATES } from '../../monitoring/stats.ts';
import { batchCounts, heldBatches, itemCounts, stuckCounts } from '../../store/read-models/index.ts';
import type { PipelineContext } from '../../pipeline/context.ts';
import { duration, inline, table } from '../format.ts';
import { print, printJson, withContext, type CliIO } from '../io.ts';

export interface StatusReport {
  queues: Array<{ queue: string; counts: Record<string, number> }>;
  batches: { byStatus: Record<string, number>; rows: Array<{ task: string; model: string; status: string; count: number }> };
  items: { byStatus: Record<string, number>; byTask: Record<string, Record<string, number>> };
  held: Array<{ id: string; task: string; model: string; reason: string; heldSince: Date; waitMs: number }>;
  stuckBatches: number;
}

export async function statusReport(ctx: PipelineContext): Promise<StatusReport> {
  for (const task of ctx.registry.names()) ctx.queues.resultsFor(task);
  const [queues, batches, items, held, stuck] = await Promise.all([
    queueCounts(ctx.queues.all()),
    batchCounts(ctx.db),
    itemCounts(ctx.db),
    heldBatches(ctx.db, ctx.now(), 100),
    stuckCounts(ctx.db, ctx.config.stuckAfterMs, ctx.now()),
  ]);
  const sum = (rows: Array<{ status: string; count: number }>) => {
    const out: Record<string, number> = {};
    for (const r of rows) out[r.status] = (out[r.status] ?? 0) + r.count;
    return out;
  };
  const byTask: Record<string, Record<string, number>> = {};
  for (const r of items) (byTask[r.task] ??= {})[r.status] = r.count;
  return {
    queues,
    batches: { byStatus: sum(batches), rows: batches },
    items: { byStatus: sum(items), byTask },
    held,
    stuckBatches: stuck.reduce((n, r) => n + r.count, 0),
  };
}

const ITEM_COLUMNS = ['queued', 'batched', 'submitted', 'succeeded', 'failed', 'cancelled'];

export function renderStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(table(['queue', ...JOB_STATES], r.queues.map((q) => [q.queue, ...JOB_STATES.map((s) => q.counts[s as keyof typeof q.counts] ?? 0)])));
  out.push('', `batches: ${inline(r.batches.byStatus)}${r.stuckBatches ? `   (${r.stuckBatches} stuck)` : ''}`);
  out.push(`items:   ${inline(r.items.byStatus)}`);
  const tasks = Object.keys(r.items.byTask).sort();
  if (tasks.length) {
    out.push('', table(['task', ...ITEM_COLUMNS], tasks.map((t) => [t, ...ITEM_COLUMNS.map((s) => r.items.byTask[t]![s] ?? 0)])));
  }
  if (r.held.length) {
    out.push('', `held batches (${r.held.length}):`, table(['batch', 'task', 'model', 'waiting', 'reason'], r.held.map((h) => [h.id, h.task, h.model, duration(h.waitMs), h.reason])));
  } else {
    out.push('', 'held batches: none');
  }
  return out.join('\n');
}

export function register(program: Command, io: CliIO): void {
  program
    .command('status')
    .description('queue depths, batches and items by status, held batches with their reasons')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const report = await withContext(io, statusReport);
      if (opts.json) printJson(io, report);
      else print(io, renderStatus(report));
    });
}
