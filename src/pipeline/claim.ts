/*
 * The claim shared by the batch builder and the sync stage: one transaction opens a batch row in
 * `building` and moves queued items of one task into it with `FOR UPDATE SKIP LOCKED`, so two
 * workers (in any processes, in any mode) never take the same item.
 */
import { query, execute } from '../db/sql.ts';
import type { AnyTask } from '../tasks/contract.ts';
import type { PipelineContext } from './context.ts';
import { triggerBuild } from './triggers.ts';

export interface ClaimRow { id: string; estimated_tokens: number; estimated_bytes: number }

/** How much one claim may take: requests, estimated input tokens, JSONL bytes. */
export interface ClaimCaps { requests: number; tokens: number; bytes: number }

/**
 * Extra columns of the new batch row. Sync chunks are marked `provider_status = 'sync'` and are
 * born with a processing lease, so nobody else adopts them while their owner works.
 */
export interface ClaimMarks { providerStatus?: string; leaseOwner?: string; leaseMs?: number }

/**
 * Opens batch `batchId` (status `building`) and claims queued, available items of `task` into it,
 * oldest first, within `caps`. Returns the claimed items; when there are none the row is deleted.
 */
export async function claimItems(ctx: PipelineContext, task: AnyTask, batchId: string, caps: ClaimCaps, marks: ClaimMarks = {}): Promise<ClaimRow[]> {
  return ctx.db.$transaction(async (tx) => {
    await execute(
      tx,
      `insert into batches (id, task, model, endpoint, status, provider_status, processing_owner, processing_lease_until)
       values ($1::uuid, $2, $3, $4, 'building', $5, $6,
               case when $6::text is null then null else now() + ($7 || ' milliseconds')::interval end)`,
      batchId, task.name, task.model, task.endpoint, marks.providerStatus ?? null, marks.leaseOwner ?? null, String(marks.leaseMs ?? 0),
    );
    const rows = await query<ClaimRow>(
      tx,
      `with cand as (
         select id, estimated_tokens, estimated_bytes, available_at from items
          where task = $1 and status = 'queued' and available_at <= now()
          order by available_at, id
          limit $2 for update skip locked
       ), pick as (
         select id from (
           select id, sum(estimated_tokens) over w as ct, sum(estimated_bytes) over w as cb
             from cand window w as (order by available_at, id)
         ) s where ct <= $3::bigint and cb <= $4::bigint
       )
       update items i set status = 'batched', batch_id = $5::uuid, updated_at = now()
         from pick where i.id = pick.id
       returning i.id, i.estimated_tokens, i.estimated_bytes`,
      task.name, caps.requests, caps.tokens, caps.bytes, batchId,
    );
    if (rows.length === 0) await execute(tx, 'delete from batches where id = $1::uuid', batchId);
    return rows;
  });
}

/** Milliseconds until the first queued item of `task` becomes available (≤ 0: now), or null when none is queued. */
export async function nextAvailableInMs(ctx: PipelineContext, task: string): Promise<number | null> {
  const [next] = await query<{ wait_ms: number | null }>(
    ctx.db,
    `select (extract(epoch from min(available_at) - now()) * 1000)::float8 as wait_ms from items where task = $1 and status = 'queued'`,
    task,
  );
  return next?.wait_ms ?? null;
}

/** Items waiting for a retry delay get a delayed build for when the first of them becomes available. */
export async function scheduleNextAvailable(ctx: PipelineContext, task: string): Promise<void> {
  const waitMs = await nextAvailableInMs(ctx, task);
  if (waitMs != null) await triggerBuild(ctx.queues, task, Math.max(1, Math.ceil(waitMs)));
}
