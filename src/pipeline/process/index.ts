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
import type { BatchRecord } from '../../store/batches.ts';
import * as items from '../../store/items.ts';
import type { PendingItem } from '../../store/items.ts';
import type { Decision, RecordedItem } from '../../store/results.ts';
import { resolveLimits, type AnyTask, type TaskLimits } from '../../tasks/contract.ts';
import type { PipelineContext } from '../context.ts';
import { Lease } from '../lease.ts';
import { recordResults, runsHooks } from '../record-results.ts';
import { finalizeBatch } from './finalize.ts';
import { fileChunks, parseLines, readAhead } from './read-files.ts';
import { decideFromHistory, decideLines, decideUnanswered, judgeAlone } from './verdicts.ts';

export type ProcessOutcome =
  | { kind: 'processed'; lines: number; succeeded: number; retried: number; failed: number; requeued: number }
  | { kind: 'busy' }
  | { kind: 'done' };

/**
 * A chunk of lines: at most 1,000 lines or 1.5 M characters of raw text (about 330 long answers).
 * With three chunks in flight, 2 M characters took the 200 MB file bench to 264 MB of RSS, 1 M to
 * 225 MB but 20% more CPU per line (twice the statements). With four (two recorded at once), 1.5 M
 * peaks at 221-246 MB.
 */
const CHUNK = { lines: 1_000, chars: 1_500_000 };
/**
 * Chunks recorded at once, each in its own transaction (without hooks; see processBatch). With one,
 * the process role waited on PostgreSQL 44 % of the 200 MB file bench (7,663-8,998 lines/s on a
 * slow machine); with two, 16-21 % (9,353-11,780 lines/s).
 */
const RECORDING_IN_FLIGHT = 2;

interface Tally { lines: number; succeeded: number; retried: number; failed: number; requeued: number }

/** Counts the decisions that moved their items (a line handled before moves nothing). */
function count(tally: Tally, decisions: readonly Decision[], moved: readonly RecordedItem[]): void {
  const ids = new Set(moved.map((r) => r.id));
  for (const d of decisions) {
    if (!ids.has(d.item_id)) continue;
    if (d.outcome === 'succeeded') tally.succeeded++;
    else if (d.outcome === 'retry') tally.retried++;
    else if (d.status === 'queued') tally.requeued++;
    else tally.failed++;
  }
}

/**
 * Decisions for one chunk of lines. A task whose parser reads inputs gets every pending item read
 * back (with its input) before its lines are judged. Otherwise the lines are judged first: the
 * successes (nearly all lines) are decided from their lines alone, and only the other items are read,
 * for the history their policy needs. A success whose item was already handled moves nothing when
 * it is recorded (the store's gate), so it is not read either.
 */
async function decideChunk(
  ctx: PipelineContext,
  batch: BatchRecord,
  task: AnyTask,
  limits: TaskLimits,
  lines: ReadonlyMap<string, Record<string, unknown>>,
  withInput: boolean,
): Promise<{ decisions: Decision[]; pending: PendingItem[] }> {
  if (withInput) {
    const pending = await items.pendingInBatch(ctx.db, batch.id, { ids: [...lines.keys()], withInput: true });
    return { decisions: decideLines(ctx, batch, task, limits, pending, lines), pending };
  }
  const { decided, waiting } = judgeAlone(ctx, batch, task, lines);
  if (waiting.size === 0) return { decisions: decided, pending: [] };
  const pending = await items.pendingInBatch(ctx.db, batch.id, { ids: [...waiting.keys()], withInput: false });
  return { decisions: [...decided, ...decideFromHistory(ctx, batch, limits, pending, waiting)], pending };
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

    // Chunks are in flight at once: RECORDING_IN_FLIGHT are recorded (each in its own transaction,
    // on its own connection: their items are disjoint), the next is judged (its pending items are
    // read), and the one after is downloaded and parsed meanwhile (readAhead). The database and the
    // event loop work at the same time, and memory holds a bounded number of chunks. Hooks run in
    // the recording's transaction: with hooks, one chunk is recorded at a time, so a task's hooks
    // never run concurrently with each other.
    const seen = new Set<string>(); // the custom_ids read so far (at most the batch's request count)
    const parsed = async function* () {
      for await (const chunk of fileChunks(ctx.provider, [batch.outputFileId, batch.errorFileId], CHUNK)) yield { lines: chunk.length, ...parseLines(chunk, seen, batch.requestCount) };
    };
    const inFlight = hooks ? 1 : RECORDING_IN_FLIGHT;
    const recordings: Array<Promise<void>> = [];
    try {
      for await (const { lines, byId, unreadable, duplicates } of readAhead(parsed())) {
        if (unreadable > 0) ctx.log.warn({ batchId, unreadable }, 'result lines without a readable custom_id skipped; their items count as not executed');
        if (duplicates > 0) ctx.log.warn({ batchId, duplicates }, 'result lines repeating an earlier custom_id skipped; the first line of each item counts');
        tally.lines += lines;
        if (byId.size === 0) continue;
        const { decisions, pending } = await decideChunk(ctx, batch, task, limits, byId, judgeWithInput);
        if (recordings.length >= inFlight) await recordings.shift();
        const recording = recordResults(ctx, task, batch.id, decisions, new Map(pending.map((p) => [p.id, p]))).then((moved) => count(tally, decisions, moved));
        recording.catch(() => undefined); // observed when it is awaited below
        recordings.push(recording);
      }
      while (recordings.length > 0) await recordings.shift();
    } finally {
      await Promise.allSettled(recordings); // a failure leaves no transaction running behind the lease
    }
    for (;;) {
      const unanswered = await items.pendingInBatch(ctx.db, batch.id, { limit: CHUNK.lines, withInput: hooks });
      if (unanswered.length === 0) break;
      const decisions = decideUnanswered(batch, limits, unanswered);
      count(tally, decisions, await recordResults(ctx, task, batch.id, decisions, new Map(unanswered.map((p) => [p.id, p]))));
    }
    await finalizeBatch(ctx, batch);
    ctx.log.info({ batchId, ...tally }, 'batch processed');
    return { kind: 'processed', ...tally };
  } finally {
    await lease.release();
  }
}
