/*
 * Process: turns a terminal batch's output and error files into per-item verdicts.
 * Why it is safe to run twice, or in two workers at once: a lease on the batch row lets one
 * worker stream the files at a time (renewed by a timer; a dead worker's batch is free again
 * within LEASE_MS); each chunk of lines commits in one transaction gated by each item's own row:
 * an item no longer in this batch waiting for a verdict means the line was handled, so its item
 * update, attempt row, cost and hook call are skipped.
 *
 * Its parts: the lease (../lease.ts), reading the files (read-files.ts), verdicts and policy
 * (verdicts.ts, ../retry-policy.ts), the commit (../record-results.ts) and finalising (finalize.ts).
 */
import { TERMINAL } from '../../store/batch-states.ts';
import * as batches from '../../store/batches.ts';
import * as items from '../../store/items.ts';
import type { Decision } from '../../store/results.ts';
import { resolveLimits } from '../../tasks/contract.ts';
import type { PipelineContext } from '../context.ts';
import { Lease } from '../lease.ts';
import { recordResults, runsHooks } from '../record-results.ts';
import { finalizeBatch } from './finalize.ts';
import { fileChunks, parseLines, readAhead } from './read-files.ts';
import { decideLines, decideUnanswered } from './verdicts.ts';

export type ProcessOutcome =
  | { kind: 'processed'; lines: number; succeeded: number; retried: number; failed: number; requeued: number }
  | { kind: 'busy' }
  | { kind: 'done' };

/**
 * A chunk of lines: at most 1,000 lines or 1.5 M characters of raw text (about 330 long answers).
 * Three chunks are in flight (see below); 2 M characters took the 200 MB file bench to 264 MB of RSS,
 * 1 M to 225 MB but 20% more CPU per line (twice the statements).
 */
const CHUNK = { lines: 1_000, chars: 1_500_000 };

interface Tally { lines: number; succeeded: number; retried: number; failed: number; requeued: number }

function count(tally: Tally, decisions: readonly Decision[]): void {
  for (const d of decisions) {
    if (d.outcome === 'succeeded') tally.succeeded++;
    else if (d.outcome === 'retry') tally.retried++;
    else if (d.status === 'queued') tally.requeued++;
    else tally.failed++;
  }
}

/** Streams a batch's output and error files and records a verdict for every item in it. */
export async function processBatch(ctx: PipelineContext, batchId: string): Promise<ProcessOutcome> {
  const lease = await Lease.take(ctx, batchId, ctx.owner, TERMINAL, 'batch');
  if (!lease) {
    const current = await batches.get(ctx.db, batchId);
    return current && TERMINAL.includes(current.status) ? { kind: 'busy' } : { kind: 'done' };
  }
  try {
    const batch = lease.batch;
    const task = ctx.registry.get(batch.task);
    const limits = resolveLimits(task);
    const tally: Tally = { lines: 0, succeeded: 0, retried: 0, failed: 0, requeued: 0 };
    // Inputs are read back only for whoever uses them: the task's parser, or its hooks.
    const hooks = runsHooks(task);
    const judgeWithInput = hooks || task.parseOutputUsesInput !== false;

    // Three chunks are in flight: one is recorded, the next is judged (its pending items are read),
    // and the one after is downloaded and parsed meanwhile (readAhead). The database and the event
    // loop work at the same time, and memory holds at most three chunks.
    const parsed = async function* () {
      for await (const chunk of fileChunks(ctx.provider, [batch.outputFileId, batch.errorFileId], CHUNK)) yield { lines: chunk.length, ...parseLines(chunk) };
    };
    let recording: Promise<void> = Promise.resolve();
    for await (const { lines, byId, unreadable } of readAhead(parsed())) {
      if (unreadable > 0) ctx.log.warn({ batchId, unreadable }, 'result lines without a readable custom_id skipped; their items count as not executed');
      tally.lines += lines;
      if (byId.size === 0) continue;
      const pending = await items.pendingInBatch(ctx.db, batch.id, { ids: [...byId.keys()], withInput: judgeWithInput });
      const decisions = decideLines(ctx, batch, task, limits, pending, byId);
      await recording;
      recording = recordResults(ctx, task, batch.id, decisions, new Map(pending.map((p) => [p.id, p]))).then(() => count(tally, decisions));
      recording.catch(() => undefined); // observed by the next await
    }
    await recording;
    for (;;) {
      const unanswered = await items.pendingInBatch(ctx.db, batch.id, { limit: CHUNK.lines, withInput: hooks });
      if (unanswered.length === 0) break;
      const decisions = decideUnanswered(batch, limits, unanswered);
      await recordResults(ctx, task, batch.id, decisions, new Map(unanswered.map((p) => [p.id, p])));
      count(tally, decisions);
    }
    await finalizeBatch(ctx, batch);
    ctx.log.info({ batchId, ...tally }, 'batch processed');
    return { kind: 'processed', ...tally };
  } finally {
    await lease.release();
  }
}
