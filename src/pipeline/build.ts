import { randomUUID } from 'node:crypto';
import { query, execute } from '../db/sql.ts';
import { resolveLimits, type AnyTask } from '../tasks/contract.ts';
import { claimItems, scheduleNextAvailable } from './claim.ts';
import type { PipelineContext } from './context.ts';
import { buildSync, isSyncTask } from './sync.ts';
import { enqueueSubmit, triggerBuild } from './triggers.ts';

/** Batch statuses that count as "in flight" for the concurrency caps: everything not yet processed. */
export const OPEN_BATCH_STATUSES = [
  'building', 'built', 'submitting', 'validating', 'in_progress', 'finalizing', 'cancelling',
  'completed', 'expired', 'failed', 'cancelled',
] as const;

const PAGE = 2_000;

export interface BuildOutcome {
  batches: string[];
  /** Why the builder stopped: no more items, a concurrency cap, or the build policy's wait. */
  stoppedBy: 'empty' | 'task-cap' | 'model-cap' | 'policy';
}

async function openBatchCount(ctx: PipelineContext, column: 'task' | 'model', value: string): Promise<number> {
  const rows = await query<{ n: number }>(
    ctx.db,
    `select count(*)::int as n from batches where ${column} = $1 and status <> 'processed'`,
    value,
  );
  return rows[0]?.n ?? 0;
}

/**
 * Lines of a batch file, read page by page from the items claimed for it (never all at once).
 * Deterministic, so any host can rewrite a batch file from PostgreSQL alone.
 */
export async function* batchLines(ctx: PipelineContext, task: AnyTask, batchId: string): AsyncGenerator<string> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await query<{ id: string; input: unknown; max_output_tokens: number | null }>(
      ctx.db,
      `select id, input, max_output_tokens from items where batch_id = $1::uuid and status = 'batched' and id > $2::uuid order by id limit ${PAGE}`,
      batchId,
      after,
    );
    for (const row of page) {
      const limits = resolveLimits(task);
      const body = task.buildRequest(row.input, { maxOutputTokens: row.max_output_tokens ?? limits.maxOutputTokens });
      yield JSON.stringify({ custom_id: row.id, method: 'POST', url: task.endpoint, body });
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

/**
 * Writes the file of a batch in status `building` and moves it to `built`. Used right after the
 * claim and by the reconciler for a builder that died between claim and file.
 */
export async function finishBuilding(ctx: PipelineContext, batchId: string): Promise<boolean> {
  const [batch] = await query<{ task: string; status: string; provider_status: string | null }>(ctx.db, 'select task, status, provider_status from batches where id = $1::uuid', batchId);
  if (!batch || batch.status !== 'building') return false;
  // A sync chunk has no file: the next build of its task adopts it once its lease has lapsed (see sync.ts).
  if (batch.provider_status === 'sync') {
    await triggerBuild(ctx.queues, batch.task);
    return false;
  }
  const task = ctx.registry.get(batch.task);
  const { path, bytes } = await ctx.store.writeLines(batchId, batchLines(ctx, task, batchId));
  const updated = await execute(
    ctx.db,
    `update batches b set status = 'built', file_path = $2, bytes = $3, built_at = now(), status_changed_at = now(),
            request_count = s.n, estimated_tokens = s.tokens
       from (select count(*)::int as n, coalesce(sum(estimated_tokens), 0)::bigint as tokens
               from items where batch_id = $1::uuid and status = 'batched') s
      where b.id = $1::uuid and b.status = 'building'`,
    batchId,
    path,
    bytes,
  );
  if (updated === 1) await enqueueSubmit(ctx.queues, batchId, 0);
  return updated === 1;
}

/**
 * Build: claims queued items of one task (FOR UPDATE SKIP LOCKED, so concurrent builders never
 * take the same item), packs them under the request, byte and token caps, and streams the JSONL.
 */
export async function build(ctx: PipelineContext, taskName: string): Promise<BuildOutcome> {
  const task = ctx.registry.get(taskName);
  if (isSyncTask(ctx, task)) return buildSync(ctx, task);
  const limits = resolveLimits(task);
  const taskCap = limits.maxInFlightBatches ?? ctx.config.limits.maxInFlightPerTask;
  const batches: string[] = [];

  for (;;) {
    if ((await openBatchCount(ctx, 'task', task.name)) >= taskCap) return { batches, stoppedBy: 'task-cap' };
    if ((await openBatchCount(ctx, 'model', task.model)) >= ctx.config.limits.maxInFlightPerModel) return { batches, stoppedBy: 'model-cap' };

    const tokenCap = Math.min(limits.maxTokensPerBatch ?? Infinity, await ctx.limits.effective(task.model));
    await execute(
      ctx.db,
      `update items set status = 'failed', error_code = 'too_large', finished_at = now(), updated_at = now(),
              error_message = 'item can never fit a batch: needs ~' || estimated_tokens || ' input tokens, more than the ' || $2::bigint || ' a batch of this model may hold'
        where task = $1 and status = 'queued' and estimated_tokens > $2::bigint`,
      task.name,
      tokenCap,
    );

    if (ctx.config.build.minItems > 1) {
      const [waiting] = await query<{ n: number; age_ms: number | null }>(
        ctx.db,
        `select count(*)::int as n, (extract(epoch from now() - min(created_at)) * 1000)::float8 as age_ms
           from items where task = $1 and status = 'queued' and available_at <= now()`,
        task.name,
      );
      const n = waiting?.n ?? 0;
      const age = waiting?.age_ms ?? 0;
      if (n === 0) return { batches, stoppedBy: 'empty' };
      if (n < ctx.config.build.minItems && age < ctx.config.build.maxWaitMs) {
        await triggerBuild(ctx.queues, task.name, Math.ceil(ctx.config.build.maxWaitMs - age));
        return { batches, stoppedBy: 'policy' };
      }
    }

    const batchId = randomUUID();
    const claimed = await claimItems(ctx, task, batchId, { requests: limits.maxRequestsPerBatch, tokens: tokenCap, bytes: limits.maxBytesPerBatch });
    if (claimed.length === 0) {
      await scheduleNextAvailable(ctx, task.name);
      return { batches, stoppedBy: 'empty' };
    }
    await finishBuilding(ctx, batchId);
    batches.push(batchId);
    ctx.log.info({ batchId, task: task.name, requests: claimed.length }, 'built batch');
  }
}
