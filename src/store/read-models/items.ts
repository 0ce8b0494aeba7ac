import type { Db } from '../db.ts';
import { shownItemStatus } from '../statuses.ts';

export interface ItemAttempt {
  batchId: string;
  outcome: string;
  errorCode: string | null;
  errorMessage: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  at: Date;
}

/** An item as a producer or an operator sees it: its state, why it waits or failed, and its history. */
export interface ItemView {
  id: string;
  task: string;
  externalId: string;
  status: string;
  attempts: number;
  requeues: number;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  costUsd: number;
  batchId: string | null;
  batchStatus: string | null;
  /** Set when the item's batch is held (token budget, concurrency, spend cap), with the reason. */
  heldReason: string | null;
  /** Tokens summed over the item's attempts. */
  usage: { inputTokens: number; cachedTokens: number; outputTokens: number };
  finishedAt: Date | null;
  history: ItemAttempt[];
}

/** Looks an item up by id, or by task and external id (Prisma's typed client: a small read). */
export async function findItem(db: Db, key: { id: string } | { task: string; externalId: string }): Promise<ItemView | null> {
  const where = 'id' in key ? { id: key.id.toLowerCase() } : { task_externalId: { task: key.task, externalId: key.externalId } };
  if ('id' in key && !/^[0-9a-f-]{36}$/i.test(key.id)) return null;
  const row = await db.item.findUnique({
    where,
    include: { batch: { select: { status: true, heldReason: true } }, attemptRows: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } },
  });
  if (!row) return null;
  return {
    id: row.id,
    task: row.task,
    externalId: row.externalId,
    status: shownItemStatus(row.status, row.batch?.status),
    attempts: row.attempts,
    requeues: row.requeues,
    output: row.output,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    costUsd: row.costUsd.toNumber(),
    batchId: row.batchId,
    batchStatus: row.batch?.status ?? null,
    heldReason: row.batch?.heldReason ?? null,
    usage: { inputTokens: row.inputTokens, cachedTokens: row.cachedTokens, outputTokens: row.outputTokens },
    finishedAt: row.finishedAt,
    history: row.attemptRows.map((h) => ({
      batchId: h.batchId,
      outcome: h.outcome,
      errorCode: h.errorCode,
      errorMessage: h.errorMessage,
      inputTokens: h.inputTokens,
      outputTokens: h.outputTokens,
      costUsd: h.costUsd.toNumber(),
      at: h.createdAt,
    })),
  };
}
